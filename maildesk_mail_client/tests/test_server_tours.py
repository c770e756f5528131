"""Browser tours (headless Chromium): setup wizard, search by address / accent, working with IMAP down."""
import socket
import time

from odoo.tests import HttpCase, new_test_user, tagged

from .common import closed_port, mailbox_state
from .test_client_tours import ClientTourCase


@tagged("post_install", "-at_install", "maildesk", "maildesk_tours")
class TestServerTours(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, login="md_tour_server", groups="maildesk_mail_client.group_maildesk_user",
                                 name="Tess Tour")

    def test_setup_wizard_follows_address_and_test_can_be_cancelled(self):
        """Cursor in Email, servers follow a corrected address, a hanging test shows it waits and cancels."""
        # Listens but never accepts: the connection opens and the IMAP greeting never comes.
        hang = socket.socket()
        hang.bind(("127.0.0.1", 0))
        hang.listen(8)
        self.addCleanup(hang.close)
        port = hang.getsockname()[1]
        self.start_tour(f"/web?hang_port={port}#action=maildesk_mail_client.maildesk_account_setup_action",
                        "maildesk_tour_setup_wizard", login=self.user.login)
        # The cancelled request still waits on the server: end it (the connection closes)
        # and give it a moment, so it does not outlive the test's database cursor.
        hang.settimeout(5)
        try:
            connection, _address = hang.accept()
            connection.close()
        except OSError:
            pass
        time.sleep(2)

    def test_search_by_address_and_without_accents(self):
        """The search box finds mail by whole address, by from:, and zurich finds Zürich."""
        self.env.cr.execute("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'")
        if not self.env.cr.fetchone():
            self.skipTest("the unaccent extension could not be created in this database")
        account = self.env["maildesk.account"].create({
            "name": "Tour box", "email": "tess@tour.test", "owner_id": self.user.id, "imap_host": "127.0.0.1"})
        inbox = self.env["maildesk.folder"].create({"account_id": account.id, "name": "INBOX", "path": "INBOX",
                                                    "role": "inbox"})
        Message = self.env["maildesk.message"].with_context(maildesk_from_sync=True)
        for subject, sender in (("Zürich office move", "Customer One <customer1@example.org>"),
                                ("Invoice 42", "customer2@example.org")):
            thread = self.env["maildesk.thread"].create({"account_id": account.id, "subject": subject})
            Message.create({"account_id": account.id, "folder_id": inbox.id, "thread_id": thread.id,
                            "subject": subject, "email_from": sender, "is_read": True,
                            "message_id": f"<{thread.id}@tour.test>", "body_text": f"About {subject}",
                            "date": "2026-11-02 10:00:00"})
        self.start_tour("/web#action=maildesk_mail_client.maildesk_client_action", "maildesk_tour_search_address",
                        login=self.user.login)


@tagged("post_install", "-at_install", "maildesk", "maildesk_tours")
class TestOfflineTour(ClientTourCase):
    def server_state(self, account):
        """{folder: {subject: flags}} of ``account``'s mailbox on Dovecot."""
        return mailbox_state(self.server.connect(*self.credentials[account.id]))

    def test_offline_actions_and_send_then_replay(self):
        """IMAP down, SMTP up: read / archive are kept and pending, a sent mail leaves at once; sync replays."""
        # The tour checks the copy in Sent right after Send: no Undo delay here.
        self.env["ir.config_parameter"].sudo().set_param("maildesk_mail_client.send_delay", "0")
        real_port = self.work.imap_port
        self.work.imap_port = closed_port()  # connection refused: the IMAP server is down
        self.tour("maildesk_tour_offline", self.alice.login)

        self.assertEqual(len(self.sink.messages), 1, "the message reached the SMTP server while IMAP was down")
        self.assertIn(b"Subject: Offline offer", self.sink.messages[0][2])
        Message = self.env["maildesk.message"]
        payment = Message.search([("message_id", "=", "<pay@tour.test>")])
        contract = Message.search([("message_id", "=", "<contract@tour.test>")])
        sent = Message.search([("account_id", "=", self.work.id), ("subject", "=", "Offline offer")])
        self.assertTrue(payment.is_read and payment.pending_sync)
        self.assertEqual(contract.folder_id.role, "archive")
        self.assertTrue(contract.pending_sync)
        self.assertEqual(sent.folder_id.role, "sent")
        self.assertTrue(sent.pending_sync)
        before = self.server_state(self.work)
        self.assertNotIn(b"\\Seen", before["INBOX"]["Payment reminder"])
        self.assertIn("Contract draft", before["INBOX"])
        self.assertNotIn("Offline offer", before.get("Sent", {}))

        self.work.imap_port = real_port  # the IMAP server is back: a sync replays the queue
        self.work._sync()
        after = self.server_state(self.work)
        self.assertIn(b"\\Seen", after["INBOX"]["Payment reminder"])
        self.assertNotIn("Contract draft", after["INBOX"])
        self.assertIn("Contract draft", after["Archive"])
        self.assertIn("Offline offer", after["Sent"])
        self.assertFalse((payment | contract | sent).filtered("pending_sync"))
        self.assertFalse(self.env["maildesk.pending.action"].search_count(
            [("account_id", "=", self.work.id), ("state", "=", "pending")]))
        self.assertEqual(Message.search_count([("account_id", "=", self.work.id),
                                               ("message_id", "=", sent.message_id)]), 1)
