"""Changes made in Odoo reach the server; sending files the mail in Sent at once."""
from odoo.exceptions import AccessError, UserError
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
        """Archive moves to Archive; delete moves to Trash; only Delete permanently erases from Trash."""
        self.one.action_archive_mail()
        self.assertEqual(self.one.folder_id.role, "archive")
        two = self.messages(subject="two")
        two.action_delete_mail()
        self.assertEqual(two.folder_id.role, "trash")
        self.assertIn("two", self.server_flags("Trash"))
        two.action_delete_mail()  # a plain delete of mail in Trash leaves it there
        self.assertTrue(two.exists())
        self.assertIn("two", self.server_flags("Trash"))
        two.action_delete_permanently()
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


def reply(subject, message_id, parent, sender="Alice <alice@example.com>", to="owner@example.com"):
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: {message_id}\r\nIn-Reply-To: {parent}\r\nReferences: {parent}\r\n"
            f"Date: Tue, 03 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain\r\n\r\nbody\r\n").encode()


@tagged("post_install", "-at_install", "maildesk")
class TestDeleteAndMoveKeepCopies(ImapCase):
    """Delete, Move and unlink as a user would (client API, ORM over RPC): no mail lost."""

    def setUp(self):
        super().setUp()
        # One conversation filed in three places: the question in INBOX, my answer in Sent,
        # an older follow-up already in Trash.
        self.append([plain("plan", "<plan@example.com>")])
        self.append([reply("Re: plan", "<mine@example.com>", "<plan@example.com>",
                           sender=f"Me <{self.login}>", to="alice@example.com")], folder="Sent")
        self.append([reply("Re: plan", "<old@example.com>", "<plan@example.com>")], folder="Trash")
        self.account.action_sync()
        self.thread = self.messages(message_id="<plan@example.com>").thread_id
        self.assertEqual(self.thread.message_count, 3)
        self.folders = {f.role: f for f in self.account.folder_ids}
        self.client = self.env["maildesk.client"].with_user(self.user_owner)

    def server_ids(self, folder):
        client = self.imap()
        client.select_folder(folder, readonly=True)
        data = client.fetch(client.search("ALL"), ["ENVELOPE"])
        client.logout()
        return sorted(item[b"ENVELOPE"].message_id.decode() for item in data.values())

    def test_delete_moves_to_trash_and_keeps_what_trash_held(self):
        """Item 9: Delete of a conversation never erases its copies already in Trash."""
        self.client.delete([self.thread.id], folder_id=self.folders["inbox"].id)
        self.assertIn("<old@example.com>", self.server_ids("Trash"))
        self.assertIn("<plan@example.com>", self.server_ids("Trash"))
        self.assertEqual(self.server_ids("INBOX"), [])
        self.assertEqual(len(self.messages(message_id="<old@example.com>")), 1)
        # Deleting again while viewing Trash without the confirmation flag erases nothing.
        with self.assertRaises(UserError):
            self.client.delete([self.thread.id], folder_id=self.folders["trash"].id)
        self.assertIn("<old@example.com>", self.server_ids("Trash"))
        # The model's Delete (backend button, RPC) never expunges either.
        in_trash = self.messages(folder_id=self.folders["trash"].id)
        in_trash.with_user(self.user_owner).action_delete_mail()
        self.assertEqual(len(self.server_ids("Trash")), len(in_trash))

    def test_delete_for_good_only_from_trash_with_the_flag(self):
        """Item 9: the confirmed delete in Trash erases the Trash copies, nothing else."""
        self.client.delete([self.thread.id], folder_id=self.folders["trash"].id, permanent=True)
        self.assertEqual(self.server_ids("Trash"), [])
        self.assertEqual(self.server_ids("INBOX"), ["<plan@example.com>"])
        self.assertEqual(self.server_ids("Sent"), ["<mine@example.com>"])
        self.assertEqual(self.thread.message_count, 2)
        with self.assertRaises(UserError):
            self.messages(message_id="<plan@example.com>").with_user(self.user_owner).action_delete_permanently()
        self.assertEqual(self.server_ids("INBOX"), ["<plan@example.com>"])

    def test_user_cannot_delete_mail_only_in_odoo(self):
        """Item 10: ORM unlink (backend Delete, RPC) is refused for users and admins, any context."""
        message = self.messages(message_id="<plan@example.com>")
        for user in (self.user_owner, self.user_admin):
            for context in ({}, {"maildesk_from_sync": True}, {"active_test": False}):
                with self.subTest(user=user.login, context=context), self.assertRaises(AccessError):
                    message.with_user(user).with_context(**context).unlink()
        self.assertTrue(message.exists())
        self.assertEqual(self.server_ids("INBOX"), ["<plan@example.com>"])
        Message = self.env["maildesk.message"]
        for user in (self.user_owner, self.user_admin):
            self.assertFalse(Message.with_user(user).check_access_rights("unlink", raise_exception=False))
            for view_type in ("tree", "form"):
                arch = Message.with_user(user).get_views([(False, view_type)])["views"][view_type]["arch"]
                self.assertIn('delete="0"', arch, view_type)
        # Threads and folders cannot be deleted behind the server either.
        self.assertFalse(self.env["maildesk.thread"].with_user(self.user_admin).check_access_rights(
            "unlink", raise_exception=False))
        self.assertFalse(self.env["maildesk.folder"].with_user(self.user_admin).check_access_rights(
            "unlink", raise_exception=False))

    def test_move_takes_only_the_viewed_folder(self):
        """Item 12: Move from INBOX moves the INBOX copy; my reply stays in Sent."""
        client = self.imap()
        client.create_folder("Projects")
        client.logout()
        self.account.action_sync()
        projects = self.account.folder_ids.filtered(lambda f: f.path == "Projects")
        self.client.move([self.thread.id], projects.id, from_folder_id=self.folders["inbox"].id)
        self.assertEqual(self.server_ids("Projects"), ["<plan@example.com>"])
        self.assertEqual(self.server_ids("Sent"), ["<mine@example.com>"])
        self.assertEqual(self.server_ids("Trash"), ["<old@example.com>"])
        # From the unified inbox (a role, no folder) and from an older client (no source):
        # still never Sent or Drafts.
        self.client.move([self.thread.id], self.folders["inbox"].id, from_role="custom")
        self.assertEqual(self.server_ids("INBOX"), ["<plan@example.com>"])
        self.client.move([self.thread.id], projects.id)
        self.assertEqual(self.server_ids("Sent"), ["<mine@example.com>"])
        self.assertEqual(self.messages(message_id="<mine@example.com>").folder_id, self.folders["sent"])


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

    def test_partial_delivery_is_sent_with_its_copy_and_names_the_refused(self):
        """Item 11: one recipient refused: the others got it, Sent holds it once, the refusal is said."""
        self.sink.refuse_recipients = {"nobody@example.com"}
        wizard = self.env["maildesk.compose"].create({
            "account_id": self.account.id, "email_to": "bob@example.com, nobody@example.com",
            "subject": "Partial", "body_html": "<p>x</p>"})
        action = wizard.action_send()
        self.assertEqual([m[1] for m in self.sink.messages], [["bob@example.com"]])
        sent = self.messages(subject="Partial")
        self.assertEqual(len(sent), 1)
        self.assertEqual(sent.folder_id.role, "sent")
        self.assertIn("nobody@example.com", sent.delivery_error)
        self.assertNotIn("bob@example.com", sent.delivery_error)
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn("nobody@example.com", action["params"]["message"])
        self.account.action_sync()
        self.assertEqual(len(self.messages(subject="Partial")), 1)
        # The client API says it too.
        result = self.env["maildesk.client"].send({
            "account_id": self.account.id, "to": "carol@example.com, nobody@example.com", "subject": "Again",
            "body_html": "<p>y</p>"}, delay=0)  # at once, without the Undo delay of the outbox
        self.assertIn("nobody@example.com", result["delivery_error"])
        self.assertEqual(len(self.messages(subject="Again")), 1)

    def test_smtp_failure_is_readable(self):
        """A refused SMTP connection ends in a readable error, nothing stored."""
        self.account.smtp_port = 1
        wizard = self.env["maildesk.compose"].create({
            "account_id": self.account.id, "email_to": "bob@example.com", "subject": "fail", "body_html": "x"})
        with self.assertRaises(UserError):
            wizard.action_send()
        self.assertFalse(self.messages(subject="fail"))
