"""The security-scan level stored on messages (``maildesk.message.security_level``)."""
from odoo.addons.maildesk_mail_client.tests.common import MaildeskCase
from odoo.exceptions import AccessError
from odoo.tests import tagged


@tagged("post_install", "-at_install", "maildesk")
class TestSecurityLevel(MaildeskCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.make_account(user_ids=[(6, 0, cls.user_member.ids)])
        cls.inbox = cls.env["maildesk.folder"].create({"account_id": cls.account.id, "name": "INBOX",
                                                       "path": "INBOX", "role": "inbox"})
        cls.thread = cls.env["maildesk.thread"].create({"account_id": cls.account.id, "subject": "Invoice"})
        Message = cls.env["maildesk.message"].with_context(maildesk_from_sync=True)
        base = {"account_id": cls.account.id, "folder_id": cls.inbox.id, "thread_id": cls.thread.id,
                "subject": "Invoice", "email_from": "Billing <billing@supplier.example>",
                "from_address": "billing@supplier.example"}
        cls.plain = Message.create(dict(base, message_id="<p1@x>", date="2026-01-05 09:00:00",
                                        body_text="Hello, the parcel left today.", body_html="<p>Hello</p>"))
        body = "Please note our new bank details and pay the outstanding invoice today."
        cls.risky = Message.create(dict(base, message_id="<r1@x>", date="2026-01-05 10:00:00", body_text=body,
                                        body_html=f"<p>{body}</p>",
                                        authentication_results="mx.example.com; dmarc=fail header.from=x.example"))
        cls.outgoing = Message.create(dict(base, message_id="<o1@x>", date="2026-01-05 11:00:00", direction="outgoing",
                                           email_from="owner@example.com", from_address="owner@example.com"))

    def test_levels_are_stored_when_the_scan_runs(self):
        """No level until scanned; the scan stores low / high on incoming mail and nothing on outgoing mail."""
        messages = self.plain | self.risky | self.outgoing
        self.assertFalse(any(messages.mapped("security_level")))
        levels = messages._security_levels()
        self.assertEqual(levels, {self.plain.id: "low", self.risky.id: "high"})
        self.assertEqual(messages.mapped("security_level"), ["low", "high", False])

    def test_a_dry_scan_stores_nothing(self):
        """``store=False`` (a rule's dry run) returns the levels and writes none."""
        self.assertEqual(self.risky._security_levels(store=False), {self.risky.id: "high"})
        self.assertFalse(self.risky.security_level)

    def test_opening_the_conversation_stores_the_level(self):
        """The client's scan of an opened conversation keeps its level on the messages."""
        self.env["maildesk.client"].with_user(self.user_member).get_thread(self.thread.id)
        self.assertEqual(self.risky.security_level, "high")
        self.assertEqual(self.plain.security_level, "low")

    def test_users_cannot_set_a_level(self):
        """The level is set by the scan only: a user writing it is refused."""
        with self.assertRaises(AccessError):
            self.risky.with_user(self.user_owner).write({"security_level": "low"})
