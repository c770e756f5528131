"""Fixtures of the automation Odoo tier, on top of the base addon's least-privilege users."""
from datetime import datetime

from odoo.addons.maildesk_mail_client.tests.common import ImapCase, MaildeskCase  # noqa: F401


class AutomationCase(MaildeskCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.make_account()
        cls.account.user_ids = [(4, cls.user_member.id)]
        cls.inbox = cls.env["maildesk.folder"].create(
            {"account_id": cls.account.id, "name": "INBOX", "path": "INBOX", "role": "inbox"})
        cls.sent = cls.env["maildesk.folder"].create(
            {"account_id": cls.account.id, "name": "Sent", "path": "Sent", "role": "sent"})
        cls._seq = 0

    @classmethod
    def store(cls, thread=None, direction="incoming", date=None, **kwargs):
        """Store one message as the sync does (create, then the batch hook); returns it."""
        cls._seq += 1
        thread = thread or cls.env["maildesk.thread"].create({"account_id": cls.account.id, "subject": "Hi"})
        vals = {"account_id": cls.account.id, "thread_id": thread.id,
                "folder_id": (cls.inbox if direction == "incoming" else cls.sent).id,
                "direction": direction, "subject": "Hi", "message_id": f"<a{cls._seq}@example.com>",
                "email_from": "Customer <customer@example.org>" if direction == "incoming" else "owner@example.com",
                "from_address": "customer@example.org" if direction == "incoming" else "owner@example.com",
                "date": date or datetime(2026, 1, 5, 9, cls._seq % 60), "body_html": "<p>Hello</p>",
                "body_text": "Hello"}
        vals.update(kwargs)
        message = cls.env["maildesk.message"].with_context(maildesk_from_sync=True).sudo().create(vals)
        message._on_messages_stored()
        return message


def make_rule(env, accounts, actions, conditions=(), **kwargs):
    """A rule over ``accounts`` with action and condition dicts (create commands)."""
    vals = {"name": kwargs.pop("name", "Rule"), "account_ids": [(6, 0, accounts.ids)],
            "condition_ids": [(0, 0, c) for c in conditions], "action_ids": [(0, 0, a) for a in actions]}
    vals.update(kwargs)
    rule = env["maildesk.rule"].create(vals)
    # Rules act on mail dated from their activation; test mail is dated in the past.
    rule.sudo().write({"active_from": datetime(2000, 1, 1)})
    return rule
