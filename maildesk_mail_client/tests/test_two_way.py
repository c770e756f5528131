"""Changes made in Odoo reach the server; sending files the mail in Sent at once."""
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import ImapCase


def plain(subject, message_id):
    return (f"From: Alice <alice@example.com>\r\nTo: owner@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: {message_id}\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
            f"Content-Type: text/plain\r\n\r\nbody\r\n").encode()


@tagged("post_install", "-at_install", "maildesk")
class TestTwoWay(ImapCase):
    def setUp(self):
        super().setUp()
        self.append([plain("one", "<one@example.com>"), plain("two", "<two@example.com>")])
        self.account.action_sync()
        self.one = self.messages(subject="one")

    def server_flags(self, folder="INBOX"):
        client = self.imap()
        client.select_folder(folder, readonly=True)
        data = client.fetch(client.search("ALL"), ["FLAGS", "ENVELOPE"])
        client.logout()
        return {item[b"ENVELOPE"].subject.decode(): set(item[b"FLAGS"]) for item in data.values()}

    def test_mark_read_reaches_server(self):
        """Reading a message in Odoo sets \\Seen on the server."""
        self.one.with_user(self.user_owner).action_mark_read()
        self.assertTrue(self.one.is_read)
        self.assertIn(b"\\Seen", self.server_flags()["one"])
        self.assertNotIn(b"\\Seen", self.server_flags()["two"])

    def test_mark_unread_and_star_reach_server(self):
        """Unread and star changes are pushed too."""
        self.one.action_mark_read()
        self.one.action_mark_unread()
        self.one.action_toggle_star()
        flags = self.server_flags()["one"]
        self.assertNotIn(b"\\Seen", flags)
        self.assertIn(b"\\Flagged", flags)

    def test_member_flag_change_reaches_server(self):
        """A member of a shared mailbox changes flags without seeing credentials."""
        self.account.write({"is_shared": True, "user_ids": [(4, self.user_member.id)]})
        self.one.with_user(self.user_member).write({"is_read": True})
        self.assertIn(b"\\Seen", self.server_flags()["one"])

    def test_move_reaches_server_without_duplicate(self):
        """Moving to a folder moves on the server; the next sync adds no copy."""
        archive = self.account.folder_ids.filtered(lambda f: f.role == "archive")
        self.one.action_move(archive.id)
        self.assertEqual(self.one.folder_id, archive)
        self.assertIn("one", self.server_flags("Archive"))
        self.assertNotIn("one", self.server_flags("INBOX"))
        self.account.action_sync()
        self.assertEqual(len(self.messages(subject="one")), 1)
        self.assertEqual(len(self.messages()), 2)

    def test_archive_and_delete(self):
        """Archive moves to Archive; delete moves to Trash, and from Trash deletes for good."""
        self.one.action_archive_mail()
        self.assertEqual(self.one.folder_id.role, "archive")
        two = self.messages(subject="two")
        two.action_delete_mail()
        self.assertEqual(two.folder_id.role, "trash")
        self.assertIn("two", self.server_flags("Trash"))
        two.action_delete_mail()
        self.assertFalse(two.exists())
        self.assertNotIn("two", self.server_flags("Trash"))
        self.account.action_sync()
        self.assertEqual(len(self.messages()), 1)

    def test_server_error_keeps_local_state(self):
        """If the server refuses, the local record is unchanged and the user is told."""
        self.account.imap_password = "wrong"
        with self.assertRaises(UserError):
            self.one.action_mark_read()
        self.assertFalse(self.one.is_read)


@tagged("post_install", "-at_install", "maildesk")
class TestSend(ImapCase):
    def setUp(self):
        super().setUp()
        self.sink = self.use_smtp_sink(smtp_login=False)
        self.account.action_sync()

    def test_send_delivers_and_files_in_sent_at_once(self):
        """A sent message reaches SMTP and is in Sent locally and on the server, once."""
        wizard = self.env["maildesk.compose"].create({
            "account_id": self.account.id, "email_to": "bob@example.com", "subject": "Offer",
            "body_html": "<p>Our offer</p>"})
        wizard.action_send()
        self.assertEqual(len(self.sink.messages), 1)
        sent = self.messages(subject="Offer")
        self.assertEqual(len(sent), 1)
        self.assertEqual(sent.folder_id.role, "sent")
        self.assertEqual(sent.direction, "outgoing")
        self.assertTrue(sent.remote_id)
        self.account.action_sync()
        self.assertEqual(len(self.messages(subject="Offer")), 1)

    def test_reply_carries_thread_headers(self):
        """A reply has In-Reply-To/References and joins the parent's conversation."""
        self.append([plain("question", "<q1@example.com>")])
        self.account.action_sync()
        parent = self.messages(subject="question")
        wizard = self.env["maildesk.compose"].with_context(default_parent_id=parent.id, default_mode="reply").create({})
        self.assertEqual(wizard.subject, "Re: question")
        self.assertIn("alice@example.com", wizard.email_to)
        wizard.action_send()
        raw = self.sink.messages[-1][2]
        self.assertIn(b"In-Reply-To: <q1@example.com>", raw)
        reply = self.messages(subject="Re: question")
        self.assertEqual(reply.thread_id, parent.thread_id)

    def test_bcc_is_not_in_headers(self):
        """Bcc recipients get the mail but are not written into it."""
        wizard = self.env["maildesk.compose"].create({
            "account_id": self.account.id, "email_to": "bob@example.com", "email_bcc": "secret@example.com",
            "subject": "bcc", "body_html": "<p>x</p>"})
        wizard.action_send()
        _from, rcpts, raw = self.sink.messages[-1]
        self.assertIn("secret@example.com", rcpts)
        self.assertNotIn(b"secret@example.com", raw)

    def test_smtp_failure_is_readable(self):
        """A refused SMTP connection ends in a readable error, nothing stored."""
        self.account.smtp_port = 1
        wizard = self.env["maildesk.compose"].create({
            "account_id": self.account.id, "email_to": "bob@example.com", "subject": "fail", "body_html": "x"})
        with self.assertRaises(UserError):
            wizard.action_send()
        self.assertFalse(self.messages(subject="fail"))
