from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import MaildeskCase


@tagged("post_install", "-at_install", "maildesk")
class TestSecurityMatrix(MaildeskCase):
    """Owner / member / outsider / admin x account, folder, thread, message, attachment."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.make_account(is_shared=True, user_ids=[(6, 0, [cls.user_member.id])])
        cls.message = cls.make_message(cls.account, subject="Quarterly numbers")
        cls.attachment = cls.env["ir.attachment"].create({
            "name": "numbers.pdf", "raw": b"%PDF-1.4 test", "res_model": "maildesk.message",
            "res_id": cls.message.id})
        cls.private = cls.make_account(name="Private", email="priv@example.com")
        cls.private_message = cls.make_message(cls.private, subject="Private")

    def _records(self):
        return {"account": self.account, "folder": self.message.folder_id, "thread": self.message.thread_id,
                "message": self.message, "attachment": self.attachment}

    def assert_can_read(self, user):
        for label, record in self._records().items():
            with self.subTest(user=user.login, record=label):
                record.with_user(user).read(["display_name"])

    def assert_cannot_read(self, user):
        for label, record in self._records().items():
            with self.subTest(user=user.login, record=label), self.assertRaises(AccessError):
                record.with_user(user).read(["display_name"])

    def test_owner_reads_everything(self):
        """The owner sees the mailbox, its folders, conversations, messages and files."""
        self.assert_can_read(self.user_owner)

    def test_member_reads_everything(self):
        """A user in Users with Access sees the shared mailbox like its owner."""
        self.assert_can_read(self.user_member)

    def test_admin_reads_everything(self):
        """A Mailbox Admin sees every mailbox, listed or not."""
        self.assert_can_read(self.user_admin)

    def test_outsider_reads_nothing(self):
        """Another Mailbox User sees none of it, attachments included."""
        self.assert_cannot_read(self.user_outsider)

    def test_internal_user_without_group_reads_nothing(self):
        """An internal user without a MailDesk group has no access at all."""
        self.assert_cannot_read(self.user_internal)

    def test_outsider_search_finds_nothing(self):
        """Searches apply the same scope: no count leaks either."""
        for model in ("maildesk.account", "maildesk.message", "maildesk.thread", "maildesk.folder"):
            with self.subTest(model=model):
                self.assertEqual(self.env[model].with_user(self.user_outsider).search_count([]), 0)
        attachments = self.env["ir.attachment"].with_user(self.user_outsider).search(
            [("res_model", "=", "maildesk.message")])
        self.assertFalse(attachments)

    def test_member_sees_only_the_shared_mailbox(self):
        """A member of one shared mailbox does not see the owner's private mailbox."""
        accounts = self.env["maildesk.account"].with_user(self.user_member).search([])
        self.assertEqual(accounts, self.account)
        messages = self.env["maildesk.message"].with_user(self.user_member).search([])
        self.assertEqual(messages, self.message)

    def test_member_can_work_on_messages(self):
        """A member may tag and flag messages of the shared mailbox (local-only fields here)."""
        tag = self.env["maildesk.tag"].with_user(self.user_member).create({"name": "urgent"})
        self.message.with_user(self.user_member).write({"tag_ids": [(4, tag.id)]})
        self.assertIn(tag, self.message.tag_ids)

    def test_member_cannot_change_connection_settings(self):
        """Only the owner or an admin changes server settings or sharing."""
        with self.assertRaises(AccessError):
            self.account.with_user(self.user_member).write({"imap_host": "evil.example.com"})
        with self.assertRaises(AccessError):
            self.account.with_user(self.user_member).write({"user_ids": [(4, self.user_outsider.id)]})

    def test_outsider_cannot_write_messages(self):
        """An outsider cannot touch a message it cannot see."""
        with self.assertRaises(AccessError):
            self.message.with_user(self.user_outsider).write({"tag_ids": [(5, 0, 0)]})
        with self.assertRaises(AccessError):
            self.message.with_user(self.user_outsider).unlink()

    def test_outsider_cannot_download_attachment(self):
        """The attachment download path checks the message's rules."""
        with self.assertRaises(AccessError):
            self.attachment.with_user(self.user_outsider).datas  # noqa: B018

    def test_owner_can_write_settings(self):
        """The owner edits their own mailbox."""
        self.account.with_user(self.user_owner).write({"name": "Renamed"})
        self.assertEqual(self.account.name, "Renamed")

    def test_user_cannot_create_mailbox_for_someone_else(self):
        """A Mailbox User creates mailboxes only for themself."""
        with self.assertRaises(AccessError):
            self.env["maildesk.account"].with_user(self.user_outsider).create(
                {"name": "x", "email": "x@example.com", "owner_id": self.user_owner.id})
        own = self.env["maildesk.account"].with_user(self.user_outsider).create({"name": "x", "email": "x@example.com"})
        self.assertEqual(own.owner_id, self.user_outsider)

    def test_only_admin_resets_sync_state(self):
        """Reset Sync State is a Mailbox Admin action."""
        with self.assertRaises(AccessError):
            self.account.with_user(self.user_owner).action_reset_sync_state()

    def test_outsider_cannot_sync(self):
        """Sync now checks access before doing anything as superuser."""
        with self.assertRaises(AccessError):
            self.account.with_user(self.user_outsider).action_sync()

    def test_other_company_hidden(self):
        """Multi-company rule: a mailbox of another company is hidden even from admins."""
        other = self.env["res.company"].create({"name": "Other Co"})
        account = self.make_account(name="Other", email="o@example.com", company_id=other.id,
                                    owner_id=self.user_admin.id)
        visible = self.env["maildesk.account"].with_user(self.user_admin).with_context(
            allowed_company_ids=[self.env.company.id]).search([])
        self.assertNotIn(account, visible)
