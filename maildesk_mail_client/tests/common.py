"""Shared fixtures of the Odoo tier: least-privilege users, factories, a real Dovecot.

The IMAP server is the suite's engine-tier harness (``tests/harness`` at the repo root,
Debian ``dovecot-imapd``). Tests that need it skip with a clear reason when the harness
or the binary is not available (e.g. addons mounted without the repo's tests folder).
"""
import socket
import sys
import unittest
from pathlib import Path

from odoo.tests import new_test_user
from odoo.tests.common import TransactionCase

from ..models.maildesk_account import SYNC_LIMITER, TEST_LIMITER

_REPO_TESTS = Path(__file__).resolve().parents[2] / "tests"
if _REPO_TESTS.is_dir() and str(_REPO_TESTS) not in sys.path:
    sys.path.insert(0, str(_REPO_TESTS))

try:
    from harness import dovecot as dovecot_harness
    from harness import mailgen, smtp_sink
except ImportError:  # pragma: no cover - addons deployed without the repo's tests/
    dovecot_harness = mailgen = smtp_sink = None

_SERVER = None


def dovecot_server():
    """One Dovecot for the whole Odoo test run (started lazily, stopped at exit)."""
    global _SERVER
    if _SERVER is None:
        _SERVER = dovecot_harness.DovecotServer()
        _SERVER.start()
    return _SERVER


def require_dovecot():
    """The shared Dovecot, or skip the whole class with the reason."""
    reason = harness_missing()
    if reason:
        raise unittest.SkipTest(f"IMAP harness unavailable: {reason}")
    return dovecot_server()


def harness_missing():
    if dovecot_harness is None:
        return "the repository's tests/harness is not importable"
    if not dovecot_harness.dovecot_binary():
        return "Dovecot is not installed (Debian package dovecot-imapd)"
    return None


def closed_port():
    """A loopback port nobody listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mailbox_state(client, folders=None):
    """{folder: {subject: flags}} seen through the imapclient connection ``client`` (logged
    out after): every folder, or only ``folders``."""
    state = {}
    try:
        names = folders or [name for _flags, _delim, name in client.list_folders()]
        for name in names:
            client.select_folder(name, readonly=True)
            uids = client.search("ALL")
            data = client.fetch(uids, ["FLAGS", "ENVELOPE"]) if uids else {}
            state[name] = {item[b"ENVELOPE"].subject.decode(): set(item[b"FLAGS"]) for item in data.values()}
    finally:
        client.logout()
    return state


class MaildeskCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.user_owner = new_test_user(cls.env, login="md_owner", groups="maildesk_mail_client.group_maildesk_user")
        cls.user_member = new_test_user(cls.env, login="md_member", groups="maildesk_mail_client.group_maildesk_user")
        cls.user_outsider = new_test_user(cls.env, login="md_outsider",
                                          groups="maildesk_mail_client.group_maildesk_user")
        cls.user_admin = new_test_user(cls.env, login="md_admin", groups="maildesk_mail_client.group_maildesk_admin")
        cls.user_internal = new_test_user(cls.env, login="md_internal", groups="base.group_user")

    def setUp(self):
        super().setUp()
        TEST_LIMITER.reset()  # the connection-test rate limit is per process: each test starts afresh
        self.addCleanup(TEST_LIMITER.reset)
        SYNC_LIMITER.reset()
        self.addCleanup(SYNC_LIMITER.reset)

    @classmethod
    def make_account(cls, **kwargs):
        vals = {"name": "Test mailbox", "email": "owner@example.com", "owner_id": cls.user_owner.id,
                "imap_host": "127.0.0.1", "imap_port": 143, "imap_security": "none",
                "imap_login": "owner@example.com", "imap_password": "secret"}
        vals.update(kwargs)
        return cls.env["maildesk.account"].create(vals)

    @classmethod
    def make_folder(cls, account, path, **kwargs):
        return cls.env["maildesk.folder"].create(dict({"account_id": account.id, "name": path, "path": path},
                                                      **kwargs))

    @classmethod
    def make_message(cls, account, **kwargs):
        return create_message(cls.env, account, **kwargs)


def create_message(env, account, **kwargs):
    """A stored message (as the sync would store it) in the account's INBOX, in its own thread."""
    Folder = env["maildesk.folder"]
    folder = Folder.search([("account_id", "=", account.id), ("role", "=", "inbox")], limit=1) \
        or Folder.create({"account_id": account.id, "name": "INBOX", "path": "INBOX", "role": "inbox"})
    thread = env["maildesk.thread"].create({"account_id": account.id, "subject": kwargs.get("subject", "Hi")})
    vals = {"account_id": account.id, "folder_id": folder.id, "thread_id": thread.id, "subject": "Hi",
            "message_id": f"<m{len(thread.ids)}-{thread.id}@example.com>", "email_from": "a@example.com",
            "body_html": "<p>Hello</p>"}
    vals.update(kwargs)
    return env["maildesk.message"].with_context(maildesk_from_sync=True).create(vals)


class ClientApiCase(MaildeskCase):
    """The web client's fixture: a shared mailbox "Sales" (owner + member) with its usual
    folders, and the outsider's private mailbox; ``msg`` stores dated mail as the sync would."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.make_account(name="Sales", email="sales@example.com", is_shared=True,
                                       user_ids=[(6, 0, [cls.user_member.id])])
        cls.inbox = cls.make_folder(cls.account, "INBOX", role="inbox")
        cls.archive = cls.make_folder(cls.account, "Archive", role="archive")
        cls.trash = cls.make_folder(cls.account, "Trash", role="trash")
        cls.sent = cls.make_folder(cls.account, "Sent", role="sent")
        cls.private = cls.make_account(name="Private", email="priv@example.com", owner_id=cls.user_outsider.id)
        cls.private_inbox = cls.make_folder(cls.private, "INBOX", role="inbox")

    @classmethod
    def msg(cls, subject, date, thread=None, account=None, folder=None, **kwargs):
        """A message of ``date`` in its own conversation (or ``thread``), in the inbox unless ``folder``."""
        account = account or cls.account
        thread = thread or cls.env["maildesk.thread"].create({"account_id": account.id, "subject": subject})
        vals = {"account_id": account.id, "folder_id": (folder or cls.inbox).id, "thread_id": thread.id,
                "subject": subject, "date": date, "message_id": f"<{subject.replace(' ', '.')}-{date}@t>",
                "body_html": f"<p>{kwargs.get('body_text', subject)}</p>", "snippet": kwargs.get("body_text", ""),
                "email_from": "ann@example.org", "is_read": False}
        vals.update(kwargs)
        vals.setdefault("from_address", (vals["email_from"] or "").split("<")[-1].strip(">").lower())
        return cls.env["maildesk.message"].with_context(maildesk_from_sync=True).create(vals)

    def client(self, user=None):
        """The client API as ``user`` (the owner by default)."""
        return self.env["maildesk.client"].with_user(user or self.user_owner)


class ImapCase(MaildeskCase):
    """Tests against a real Dovecot on loopback, one fresh mailbox user per test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = require_dovecot()
        cls.env["ir.config_parameter"].sudo().set_param("maildesk_mail_client.ssl_verify", "0")

    def setUp(self):
        super().setUp()
        self.login, self.password = self.server.new_user()
        self.account = self.make_account(email=self.login, imap_login=self.login, imap_password=self.password,
                                         imap_host=self.server.host, imap_port=self.server.port,
                                         imap_security="none", bootstrap_size=1500)

    def use_smtp_sink(self, **account_vals):
        """Send through a fresh SMTP sink on loopback (stopped after the test); returns it."""
        sink = smtp_sink.SmtpSink()
        sink.start()
        self.addCleanup(sink.stop)
        self.account.write(dict({"smtp_host": sink.host, "smtp_port": sink.port, "smtp_security": "none"},
                                **account_vals))
        return sink

    def imap(self):
        """A raw imapclient connection as the test user (to change the server behind our back)."""
        return self.server.connect(self.login, self.password)

    def server_state(self, folders=None):
        """{folder: {subject: flags}} of the test user's mailbox on Dovecot."""
        return mailbox_state(self.imap(), folders)

    def server_flags(self, folder="INBOX"):
        """{subject: flags} of one folder on Dovecot."""
        return self.server_state([folder])[folder]

    def append(self, raws, folder="INBOX", flags=()):
        self.server.append(self.login, self.password, folder, list(raws), flags=flags)

    def messages(self, **domain):
        dom = [("account_id", "=", self.account.id)] + [(k, "=", v) for k, v in domain.items()]
        return self.env["maildesk.message"].search(dom)
