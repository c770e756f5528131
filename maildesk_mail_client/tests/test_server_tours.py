"""Browser tours (headless Chromium) of the setup wizard and of search by address / accent."""
import socket
import time

from odoo.tests import HttpCase, new_test_user, tagged


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
