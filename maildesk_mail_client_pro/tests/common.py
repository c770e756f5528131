"""Shared fixtures of the Pro Odoo tier: the AI emulator, a provider, a mailbox with a thread.

The emulator is the engine tier's (``tests/emulators/ai.py`` at the repo root), started
once per class on loopback; the provider points at it, so every call runs the production
code path down to HTTP.
"""
import unittest

from odoo.addons.maildesk_mail_client.tests import common as base_common
from odoo.addons.maildesk_mail_client.tests.common import MaildeskCase

try:
    from emulators.ai import AiEmulator
except ImportError:  # pragma: no cover - addons deployed without the repo's tests/
    AiEmulator = None

assert base_common  # importing it puts the repository's tests/ on sys.path
API_KEY = "sk-emulator-KEY-4711"



def start_emulator_provider(case):
    """Start the AI emulator for the test class ``case`` (stopped at class cleanup) and make it
    the active provider: ``case.emulator``, ``case.provider``."""
    if AiEmulator is None:
        raise unittest.SkipTest("the repository's tests/emulators is not importable")
    case.emulator = AiEmulator().start()
    case.addClassCleanup(case.emulator.stop)
    case.emulator.api_key = API_KEY
    case.provider = case.env["maildesk.ai.provider"].create({
        "name": "Emulator", "kind": "openai", "base_url": case.emulator.base_url + "/v1", "model": "emu-1",
        "api_key": API_KEY, "timeout": 10})
    case.provider.action_set_active()

class AiCaseMixin:
    """Emulator + active provider + a shared mailbox with a three-message thread."""

    @classmethod
    def setup_ai(cls):
        start_emulator_provider(cls)
        cls.account = cls.env["maildesk.account"].create({
            "name": "Sales", "email": "sales@acme.com", "owner_id": cls.user_owner.id, "is_shared": True,
            "user_ids": [(6, 0, [cls.user_member.id])], "imap_host": "127.0.0.1", "imap_port": 143,
            "imap_security": "none", "imap_login": "sales@acme.com", "imap_password": "secret",
            "smtp_host": "127.0.0.1", "smtp_port": 25, "smtp_security": "none"})
        cls.inbox = cls.env["maildesk.folder"].create({"account_id": cls.account.id, "name": "INBOX",
                                                       "path": "INBOX", "role": "inbox"})
        cls.thread = cls.make_thread(cls.account, [
            ("Alice Smith <alice@customer.example>", "2026-11-01 09:00:00", "We need 200 units. Delivery date?"),
            ("Sales <sales@acme.com>", "2026-11-01 10:00:00", "Thanks, we will check stock."),
            ("Alice Smith <alice@customer.example>", "2026-11-02 09:00:00", "Any news on the delivery?"),
        ], subject="Order 200 units")

    @classmethod
    def make_thread(cls, account, items, subject="Subject", folder=None, **extra):
        thread = cls.env["maildesk.thread"].create({"account_id": account.id, "subject": subject})
        folder = folder or cls.env["maildesk.folder"].search([("account_id", "=", account.id),
                                                              ("role", "=", "inbox")], limit=1)
        Message = cls.env["maildesk.message"].with_context(maildesk_from_sync=True)
        for index, (sender, date, body) in enumerate(items):
            address = sender.split("<")[-1].strip(">").lower()
            vals = {"account_id": account.id, "folder_id": folder.id, "thread_id": thread.id, "subject": subject,
                    "date": date, "message_id": f"<t{thread.id}-{index}@test>", "email_from": sender,
                    "from_address": address, "body_text": body, "body_html": f"<p>{body}</p>",
                    "direction": "outgoing" if address == account.email else "incoming", "is_read": True}
            vals.update(extra)
            Message.create(vals)
        return thread

    def setUp(self):
        super().setUp()
        self.emulator.reset(api_key=API_KEY)

    def raises_kept(self, exception, call):
        """Like assertRaises, without its savepoint: what the call wrote before raising stays.

        In production the failed call's usage row is written in a transaction of its own and
        survives the request's rollback; a TransactionCase has one transaction, so the
        rollback assertRaises does would hide it.
        """
        try:
            call()
        except exception as exc:
            return exc
        self.fail(f"{exception.__name__} not raised")

    def usage(self, **domain):
        return self.env["maildesk.ai.usage"].search([(k, "=", v) for k, v in domain.items()])


class AiCase(AiCaseMixin, MaildeskCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_ai()
