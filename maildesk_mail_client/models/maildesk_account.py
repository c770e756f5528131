"""Mailboxes (accounts) and the sync orchestration that runs them.

A sync run for one account: take the account's advisory lock (one worker per account,
cron and "Sync now" never race; it lasts until the work is committed, see
``_try_lock``), list the remote folders, and for every folder feed the provider's
``SyncBatch`` stream into ``maildesk.message._apply_batch`` storing the
folder cursor in the same transaction. In cron context every batch is committed; a
crash therefore loses at most the batch in flight, and the unique key on
``(folder_id, remote_id)`` makes re-applying it harmless.

Provider errors become account state: ``AuthError`` -> ``needs_reauth``; network
failures -> ``error`` with an exponential back-off (``next_sync_at``); every failure
also writes a readable ``sync_error`` and a ``maildesk.sync.log`` line.
"""
import logging
import os
import threading
import time
from datetime import timedelta

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError

from ..engine import compose, mime, secrets, smtp
from ..engine.errors import AuthError, NetworkError, ProviderError, SendError, ThrottledError, UnreachableError
from ..engine.imap import ImapConfig, ImapProvider
from ..engine.provider import DEFAULT_BACKFILL_CAP, DEFAULT_BOOTSTRAP, SendResult, SyncOptions
from ..engine.ratelimit import RateLimiter
from ..engine.smtp import SmtpConfig

_logger = logging.getLogger(__name__)

LOCK_NAMESPACE = 0x4D44  # "MD": first key of pg_advisory_lock(ns, account_id)
CRON_TIME_BUDGET = 50  # seconds a cron run may spend before re-triggering itself
BACKFILL_TIME_BUDGET = 40  # seconds of one backfill run; the next one is triggered right after
BACKFILL_PAUSE = 5  # seconds between two backfill runs: the incremental sync goes first
BACKOFF_MAX_MINUTES = 60
INTERACTIVE_TIMEOUT = 20  # seconds a server may take when a person waits (Test Connection, a click)
SYNC_LOG_RETENTION_DAYS = 30
FOLDER_ORDER = {"inbox": 0, "sent": 1, "drafts": 2, "archive": 3, "custom": 4, "spam": 5, "trash": 6}
SECURITY = [("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("none", "None (unencrypted)")]
# Where each stored secret is sent: changing one of these needs the secret typed again.
SECRET_DESTINATIONS = {
    "imap": ("imap_host", "imap_port", "imap_security"),
    "smtp": ("smtp_host", "smtp_port", "smtp_security"),
}
# Connection tests (Test Connection, the setup wizard) per user per minute: a test is a
# connection to any host and port the user types, so it must not scan a network.
TEST_LIMIT = 6
TEST_LIMITER = RateLimiter(TEST_LIMIT, 60)
# "Sync now" / "Load more history" per user per minute: a sync connects to whatever host the
# owner typed, so clicking it in a loop would be a port scanner too (the cron is not counted).
SYNC_LIMIT = 10
SYNC_LIMITER = RateLimiter(SYNC_LIMIT, 60)


class MailServerUnreachable(UserError):
    """The mail server cannot be reached right now (an outage, not a mistake of the user).

    The web client shows it as a notification titled "Mail server unreachable"
    (static/src/core/mail_server_errors.js), never as an "Invalid Operation" dialog.
    """


class NotSentError(MailServerUnreachable):
    """The outgoing server could not be reached: nothing left, sending again is safe."""


def _is_testing():
    return getattr(threading.current_thread(), "testing", False)


def cannot_connect_message():
    """The one answer to every connection failure of a test (refused, timed out, TLS, not a
    mail server...): the difference would tell which ports are open on the server's network."""
    return _("Cannot connect to the mail server with these settings. Check the server names and ports, the "
             "security, and that this Odoo server may reach them.")


class MaildeskAccount(models.Model):
    _name = "maildesk.account"
    _inherit = ["maildesk.guard.mixin"]
    _description = "Mailbox"
    _order = "name, id"

    name = fields.Char(required=True)
    email = fields.Char(help="The address this mailbox sends from. Gmail and Microsoft 365 mailboxes get it "
                             "from the provider when they are connected.")
    provider = fields.Selection(
        [("imap", "IMAP / SMTP"), ("gmail", "Gmail"), ("outlook", "Outlook / Microsoft 365")],
        required=True, default="imap")
    owner_id = fields.Many2one("res.users", required=True, default=lambda self: self.env.user,
                               index=True, ondelete="restrict")
    is_shared = fields.Boolean("Shared mailbox", help="A team mailbox; members are listed in Users with Access.")
    user_ids = fields.Many2many("res.users", "maildesk_account_user_rel", "account_id", "user_id",
                                string="Users with access")
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, index=True)
    active = fields.Boolean(default=True)
    state = fields.Selection(
        [("new", "Not synced yet"), ("connected", "Connected"), ("error", "Error"),
         ("needs_reauth", "Needs re-authorisation")],
        default="new", required=True, readonly=True, copy=False)
    last_sync_at = fields.Datetime("Last synced", readonly=True, copy=False)
    next_sync_at = fields.Datetime("Next try", readonly=True, copy=False,
                                   help="After a network error the next automatic sync waits until then.")
    error_count = fields.Integer(readonly=True, copy=False)
    sync_error = fields.Text(readonly=True, copy=False)

    imap_host = fields.Char("IMAP server")
    imap_port = fields.Integer("IMAP port", default=993)
    imap_security = fields.Selection(SECURITY, string="IMAP security", default="ssl")
    imap_login = fields.Char("IMAP login")
    imap_password = fields.Char("IMAP password", compute="_compute_passwords", inverse="_inverse_imap_password",
                                help="Write-only: the stored password is encrypted and never shown.")
    imap_password_encrypted = fields.Char(groups="base.group_system", copy=False)
    smtp_host = fields.Char("SMTP server")
    smtp_port = fields.Integer("SMTP port", default=587)
    smtp_security = fields.Selection(SECURITY, string="SMTP security", default="starttls")
    smtp_login = fields.Char("SMTP login")
    smtp_password = fields.Char("SMTP password", compute="_compute_passwords", inverse="_inverse_smtp_password",
                                help="Write-only. Leave empty to reuse the IMAP password.")
    smtp_password_encrypted = fields.Char(groups="base.group_system", copy=False)
    has_password = fields.Boolean(compute="_compute_passwords")
    signature = fields.Html(help="Added to mail sent from this mailbox; empty: the sender's own user signature.")

    bootstrap_size = fields.Integer(
        "Bootstrap size", default=DEFAULT_BOOTSTRAP,
        help="How many of the newest messages of each folder the first sync loads, so the mailbox is usable "
             "within a minute or two. Older mail follows in the background (Backfill).")
    backfill_mode = fields.Selection(
        [("progressive", "Progressive (background, up to the cap)"), ("full", "Full history"),
         ("from_now", "From now on (no history)")],
        string="Backfill", default="progressive", required=True,
        help="What happens to older mail after the first sync: loaded in the background up to the cap, all of "
             "it, or none (only mail from now on).")
    backfill_cap = fields.Integer(
        "Backfill cap", default=DEFAULT_BACKFILL_CAP,
        help="At most this many messages per folder are kept in MailDesk (0 = no limit); older ones stay on "
             "the server.")

    folder_ids = fields.One2many("maildesk.folder", "account_id")
    sync_log_ids = fields.One2many("maildesk.sync.log", "account_id")
    message_count = fields.Integer(compute="_compute_message_count")

    # Sync state is the sync's; folders and logs come from the server (maildesk.guard.mixin).
    _md_system_fields = ("state", "last_sync_at", "next_sync_at", "error_count", "sync_error", "folder_ids",
                         "sync_log_ids", "imap_password_encrypted", "smtp_password_encrypted",
                         "oauth_refresh_token_encrypted", "oauth_access_token_encrypted", "oauth_expires_at")

    _sql_constraints = [
        ("bootstrap_positive", "CHECK(bootstrap_size >= 0)", "The bootstrap size cannot be negative."),
        ("backfill_cap_positive", "CHECK(backfill_cap >= 0)", "The backfill cap cannot be negative."),
    ]

    # -- computes -------------------------------------------------------------------
    def _compute_passwords(self):
        # sudo: the encrypted columns are admin-only; we only expose whether one is set.
        for account, sudo_account in zip(self, self.sudo()):
            account.imap_password = False
            account.smtp_password = False
            account.has_password = bool(sudo_account.imap_password_encrypted)

    def _inverse_imap_password(self):
        self._store_secret("imap_password_encrypted", "imap_password")

    def _inverse_smtp_password(self):
        self._store_secret("smtp_password_encrypted", "smtp_password")

    def _store_secret(self, column, field):
        key = self._get_encryption_key()
        for account in self:
            value = account[field]
            if value:
                # sudo: the owner may set a password they may never read back.
                account.sudo()[column] = secrets.encrypt(key, value)
        # Drop the plain value from the cache: a read in the same request (web_save)
        # must not echo it back.
        self.invalidate_recordset([field])

    def _compute_message_count(self):
        counts = dict(self.env["maildesk.message"]._read_group(
            [("account_id", "in", self.ids)], ["account_id"], ["__count"]))
        for account in self:
            account.message_count = counts.get(account, 0)

    @api.constrains("email", "provider")
    def _check_email(self):
        for account in self:
            if account.provider == "imap" and not account.email:
                raise ValidationError(_("An IMAP mailbox needs its email address."))

    @api.constrains("email", "provider", "imap_host", "imap_login", "active")
    def _check_not_connected_twice(self):
        """One mailbox (address + server + login) is connected once: twice doubles every conversation."""
        for account in self.filtered("active"):
            twin = account._find_twin()
            if twin:
                raise ValidationError(account._twin_message(twin))

    def _twin_key(self):
        """What makes two records the same mailbox: provider, address, and for IMAP host + login."""
        self.ensure_one()
        email = (self.email or "").strip().lower()
        if self.provider != "imap":
            return (self.provider, email, "", "")
        return (self.provider, email, (self.imap_host or "").strip().lower(),
                (self.imap_login or self.email or "").strip().lower())

    def _find_twin(self, key=None):
        """Another active mailbox with the same key, whoever owns it (sudo: a user must learn
        that the mailbox is already connected even when it is not shared with them)."""
        key = key or self._twin_key()
        if not key[1]:
            return self.browse()
        candidates = self.sudo().search([("email", "=ilike", key[1]), ("provider", "=", key[0]),
                                         ("id", "not in", self.ids)])
        return candidates.filtered(lambda a: a._twin_key() == key)[:1]

    def _twin_message(self, twin):
        if twin.owner_id == self.env.user or twin.sudo().user_ids & self.env.user:
            return _("%(email)s on this server is already connected as the mailbox \"%(name)s\". "
                     "Open that one instead of connecting it twice.", email=twin.email, name=twin.name)
        return _("%s on this server is already connected by someone else. Ask them (or a Mailbox Admin) "
                 "to share that mailbox with you instead of connecting it twice.", twin.email)

    # -- CRUD -------------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        if not self._is_mailbox_admin():
            for vals in vals_list:
                if vals.get("owner_id", self.env.uid) != self.env.uid:
                    raise AccessError(_("Only a Mailbox Admin can create a mailbox for another user."))
        return super().create(vals_list)

    def write(self, vals):
        if not self._is_mailbox_admin():
            # Rules first: who may not edit the mailbox at all hears that, not the password rule.
            self.check_access_rights("write")
            self.check_access_rule("write")
            if "owner_id" in vals:
                raise AccessError(_("Only a Mailbox Admin can change the owner of a mailbox."))
            self._check_secret_destination(vals)
        return super().write(vals)

    def unlink(self):
        """A deleted mailbox takes the files of its mail with it.

        Folders, conversations and messages go by database cascade; their ir.attachment
        rows would not (they point at messages by res_model/res_id only).
        """
        self.check_access_rights("unlink")
        self.check_access_rule("unlink")
        # Raw SQL: a mailbox holds up to hundreds of thousands of messages; only their ids are needed.
        self.env["maildesk.message"].flush_model(["account_id"])
        self.env.cr.execute("SELECT id FROM maildesk_message WHERE account_id = ANY(%s)", (self.ids,))
        message_ids = [row[0] for row in self.env.cr.fetchall()]
        if message_ids:
            # sudo: the attachments of the mailbox's mail, whoever created them; the right to
            # delete the mailbox was checked above.
            self.env["ir.attachment"].sudo().search(
                [("res_model", "=", "maildesk.message"), ("res_id", "in", message_ids)]).unlink()
        return super().unlink()

    def _is_mailbox_admin(self):
        return self.env.su or self.env.user.has_group("maildesk_mail_client.group_maildesk_admin")

    def _check_secret_destination(self, vals):
        """A stored password goes only where it was typed for: moving it needs it typed again.

        Otherwise whoever may edit the mailbox (its owner) could point the server (or the
        security, to none) at a host of theirs and press Test Connection or Sync to receive
        a password they can never read. SMTP falls back to the IMAP password.
        """
        for account in self:
            stored = account.sudo()  # sudo: only whether a secret is stored, never its value
            for kind, destination in SECRET_DESTINATIONS.items():
                if not any(name in vals and (vals[name] or False) != (account[name] or False)
                           for name in destination):
                    continue
                if kind == "imap":
                    secret_stored, retyped = stored.imap_password_encrypted, vals.get("imap_password")
                elif stored.smtp_password_encrypted:
                    secret_stored, retyped = True, vals.get("smtp_password")
                else:
                    secret_stored = stored.imap_password_encrypted
                    retyped = vals.get("smtp_password") or vals.get("imap_password")
                if secret_stored and not retyped:
                    raise UserError(_("Type the %(kind)s password again to change the server, port or security of "
                                      "%(name)s: the stored password is only sent where it was entered for.",
                                      kind=kind.upper(), name=account.name))

    # -- actions ----------------------------------------------------------------------
    def action_test_connection(self):
        self.ensure_one()
        self._check_can_operate()
        self._check_test_rate()
        try:
            with self._get_interactive_provider() as provider:
                info = provider.test_connection()
        except ProviderError as exc:
            if not isinstance(exc, AuthError):
                # Readable details of a refused connection stay in the server log only.
                _logger.info("MailDesk: connection test of account %s failed: %s", self.id, exc)
                exc = (NetworkError if isinstance(exc, NetworkError) else ProviderError)(cannot_connect_message())
            self.sudo()._record_failure(exc, kind="test")
            if isinstance(exc, NetworkError):
                raise MailServerUnreachable(str(exc)) from exc
            raise UserError(_("Connection failed: %s", exc)) from exc
        message = _("Connected. %(folders)s folders found.", folders=info.get("folders", 0))
        return {"type": "ir.actions.client", "tag": "display_notification",
                "params": {"title": _("Test Connection"), "message": message, "type": "success", "sticky": False}}

    def action_sync(self):
        """Sync these accounts now; returns once the sync is done."""
        self._check_can_operate()
        self._check_sync_rate()
        # sudo: syncing writes system data (cursors, logs, other users' mail in a shared
        # mailbox) on behalf of a user whose access to the account was checked above.
        self.sudo()._sync(commit=False)
        return True

    def action_backfill(self):
        self._check_can_operate()
        self._check_sync_rate()
        self.sudo()._sync(commit=False, backfill=True)
        return True

    def action_reset_sync_state(self):
        """Forget every cursor and resync; stored mail is re-bound, never duplicated."""
        if not self.env.user.has_group("maildesk_mail_client.group_maildesk_admin"):
            raise AccessError(_("Only a Mailbox Admin can reset the sync state."))
        for account in self.sudo():
            account.folder_ids.write({"sync_cursor": {"reset": True}})
            account.write({"state": "new", "sync_error": False, "next_sync_at": False, "error_count": 0})
            account._log("reset", "info", _("Sync state reset by %s.", self.env.user.name))
        self.sudo()._sync(commit=False)
        return True

    def action_open_messages(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("maildesk_mail_client.maildesk_message_action")
        action["domain"] = [("account_id", "=", self.id)]
        return action

    def action_compose(self):
        self.ensure_one()
        return self.env["maildesk.compose"].action_open({"default_account_id": self.id})

    def _signature_html(self):
        """The mailbox's signature, else the current user's (Preferences ▸ Signature)."""
        self.ensure_one()
        return str(self.signature or self.env.user.signature or "")

    def _notify_clients(self, folder_ids=(), kind="mail"):
        """Tell the web clients of everyone who sees this mailbox that it changed (Odoo bus).

        ``kind``: "mail" (messages came, went or changed: refresh lists and the open thread),
        "flags" (read/unread changed: refresh counts and lists), "status" (a sync ended: the
        payload's ``status`` is the mailbox's new sync state, error and last sync time).
        """
        self.ensure_one()
        admins = self.env.ref("maildesk_mail_client.group_maildesk_admin").sudo().users
        users = (self.owner_id | self.user_ids | admins).filtered("active")
        payload = {"account_id": self.id, "folder_ids": list(folder_ids), "kind": kind}
        if kind == "status":
            payload["status"] = self.env["maildesk.client"]._account_status(self)
        self.env["bus.bus"].sudo()._sendmany([(user.partner_id, "maildesk.update", payload) for user in users])

    @api.model
    def _check_test_rate(self):
        """At most TEST_LIMIT connection tests per user per minute (no port scans from here)."""
        if not TEST_LIMITER.hit((self.env.cr.dbname, self.env.uid)):
            raise UserError(_("Too many connection tests. Wait a minute and try again."))

    @api.model
    def _check_sync_rate(self):
        """At most SYNC_LIMIT clicked syncs per user per minute; server code (sudo) is not counted.

        ``env.su`` is never true for a JSON-RPC call, so a user cannot opt out of the limit."""
        if self.env.su:
            return
        if not SYNC_LIMITER.hit((self.env.cr.dbname, self.env.uid)):
            raise UserError(_("Too many syncs. Wait a minute and try again."))

    # -- access -------------------------------------------------------------------------
    def _check_can_operate(self):
        """Owners, members and admins may sync/test; record rules decide who sees what."""
        self.check_access_rights("read")
        self.check_access_rule("read")

    # -- provider ---------------------------------------------------------------------
    def _get_provider(self):
        """The engine provider for this account; override to add a provider type."""
        self.ensure_one()
        if self.provider != "imap":
            raise UserError(_("%s accounts are not available in this version.", self.provider))
        if not self.imap_host:
            raise UserError(_("Set the IMAP server of %s first.", self.name))
        return ImapProvider(self._get_imap_config(), self._get_smtp_config())

    def _get_interactive_provider(self):
        """``_get_provider`` with short timeouts: Test Connection and clicks, where a person waits.

        A server that does not answer is then queued for / reported within seconds, not after
        the minute a background sync may wait."""
        provider = self._get_provider()
        for config in (getattr(provider, "config", None), getattr(provider, "smtp_config", None)):
            if config is not None and hasattr(config, "timeout"):
                config.timeout = min(config.timeout or INTERACTIVE_TIMEOUT, INTERACTIVE_TIMEOUT)
        return provider

    def _get_imap_config(self):
        """IMAP settings for the engine; override to inject TLS or OAuth options."""
        password = self._get_secret("imap_password_encrypted")
        return ImapConfig(host=self.imap_host, port=self.imap_port, security=self.imap_security or "ssl",
                          login=self.imap_login or self.email, password=password,
                          ssl_verify=self._ssl_verify())

    def _get_smtp_config(self):
        """SMTP settings for the engine, or None when the account cannot send."""
        if not self.smtp_host:
            return None
        password = self._get_secret("smtp_password_encrypted") or self._get_secret("imap_password_encrypted")
        return SmtpConfig(host=self.smtp_host, port=self.smtp_port, security=self.smtp_security or "starttls",
                          login=self.smtp_login or self.imap_login or self.email, password=password,
                          ssl_verify=self._ssl_verify())

    def _ssl_verify(self):
        # Admin-only switch for servers with self-signed certificates (lab setups).
        param = self.env["ir.config_parameter"].sudo().get_param("maildesk_mail_client.ssl_verify", "1")
        return param not in ("0", "false", "False")

    def _get_secret(self, column):
        # sudo: secrets are read only here, to hand them to the engine, never returned.
        value = self.sudo()[column]
        if not value:
            return ""
        try:
            return secrets.decrypt(self._get_encryption_key(), value)
        except secrets.SecretError as exc:
            raise UserError(str(exc)) from exc

    @api.model
    def _get_encryption_key(self):
        """Key for secrets at rest: server config, env, else a key file outside the database.

        Never a database value: a stolen dump alone must not decrypt the passwords.
        """
        key = tools.config.get("maildesk_encryption_key") or os.environ.get("MAILDESK_ENCRYPTION_KEY")
        if key:
            return key
        path = os.path.join(tools.config["data_dir"], "maildesk", f"{self.env.cr.dbname}.key")
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            # Written aside then linked into place: a concurrent worker never reads a half
            # written key, and when two race, both end up using the first one linked.
            tmp = f"{path}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.generate_key())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()

    def _get_sync_options(self):
        """Bootstrap / backfill bounds for the engine."""
        return SyncOptions(bootstrap=self.bootstrap_size, backfill_mode=self.backfill_mode,
                           backfill_cap=self.backfill_cap)

    # -- sync -------------------------------------------------------------------------------
    def _try_lock(self, commit=True):
        """The account's advisory lock, held exactly as long as the work it covers is pending.

        ``commit=True`` (cron: every batch commits): a session-level lock, which survives
        those commits and is released by ``_unlock`` after the run's last commit.
        ``commit=False`` ("Sync now", backfill and reset from the UI): the work commits with
        the request's transaction, after this method's caller returned, so the lock is
        transaction-level and PostgreSQL releases it at that commit or rollback. A session
        lock released before the commit let a cron run sync the same mail again in the gap,
        hit the unique key and leave the account in error.
        """
        function = "pg_try_advisory_lock" if commit else "pg_try_advisory_xact_lock"
        self.env.cr.execute(f"SELECT {function}(%s, %s)", (LOCK_NAMESPACE, self.id))
        return self.env.cr.fetchone()[0]

    def _unlock(self, commit=True):
        if commit:  # a transaction-level lock ends with its transaction, not here
            self.env.cr.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, self.id))

    def _sync(self, commit=False, backfill=False, deadline=None):
        """Sync each account; one failing account never stops the others."""
        commit = commit and not _is_testing()
        for account in self:
            if deadline and time.monotonic() > deadline:
                break
            self._sync_between(commit)
            if not account._try_lock(commit=commit):
                _logger.info("MailDesk: %s is already being synced by another worker", account.name)
                continue
            try:
                account._sync_started(commit)
                account._sync_one(commit=commit, backfill=backfill)
            except Exception as exc:  # noqa: BLE001 - one account's bug must not stop the others
                _logger.exception("MailDesk: unexpected failure while syncing account %s", account.id)
                if commit:
                    self.env.cr.rollback()
                account._record_failure(ProviderError(_("Unexpected error: %s", exc)),
                                        kind="backfill" if backfill else "sync")
                if commit:
                    self.env.cr.commit()  # cron only: keep the error visible
            finally:
                account._unlock(commit=commit)

    def _sync_between(self, commit):
        """Called before each account of a sync run; override point (real-time wake-ups go first)."""
        return None

    def _sync_started(self, commit):
        """Called once the account's lock is held, before its sync; override point (real-time marks)."""
        return None

    def _sync_one(self, commit=False, backfill=False):
        started = time.monotonic()
        totals = {"created": 0, "updated": 0, "removed": 0}
        connected = False
        try:
            with self._get_provider() as provider:
                connected = True
                # Changes made while the server was unreachable go first, in order.
                self.env["maildesk.pending.action"]._replay(self, provider)
                folders = self.env["maildesk.folder"]._sync_remote_folders(self, provider.list_folders())
                for folder in folders.sorted(lambda f: (FOLDER_ORDER.get(f.role, 4), f.path)):
                    counts = folder._run_sync(provider, self._get_sync_options(), commit=commit, backfill=backfill)
                    for key in totals:
                        totals[key] += counts[key]
        except ProviderError as exc:
            if commit:
                self.env.cr.rollback()
            if not connected and not isinstance(exc, AuthError):
                # As in Test Connection: refused, timed out, TLS or "not a mail server" all read
                # the same (the form, the client and the sync log would otherwise tell which
                # ports are open where the owner pointed the host); the details go to the
                # server log only.
                _logger.info("MailDesk: account %s could not connect: %s", self.id, exc)
                exc = NetworkError(cannot_connect_message())
            self._record_failure(exc, kind="backfill" if backfill else "sync", totals=totals)
            if commit:
                self.env.cr.commit()  # cron only: keep the error visible while others sync
            return False
        if not backfill:
            self.write({"state": "connected", "sync_error": False, "last_sync_at": fields.Datetime.now(),
                        "next_sync_at": False, "error_count": 0})
        elif self.state == "new":
            self.write({"state": "connected"})
        # A backfill run that worked says nothing about new mail: an error of the incremental
        # sync stays visible (state, message, back-off) until an incremental sync succeeds.
        self._notify_clients(kind="status")  # the open pages drop a cleared error, tick "Synced"
        if any(totals.values()):
            self._log("backfill" if backfill else "sync", "info",
                      _("%(created)s new, %(updated)s updated, %(removed)s removed.", **totals),
                      duration=time.monotonic() - started, **totals)
        if commit:
            self.env.cr.commit()  # cron only: the run's final state
        return True

    def _record_failure(self, exc, kind="sync", totals=None):
        """Turn a provider error into account state, a readable error and a log line."""
        totals = totals or {}
        vals = {"sync_error": str(exc), "error_count": self.error_count + 1}
        if isinstance(exc, AuthError):
            vals["state"] = "needs_reauth"
        else:
            vals["state"] = "error"
            minutes = min(BACKOFF_MAX_MINUTES, 2 ** min(self.error_count, 6))
            if isinstance(exc, ThrottledError) and exc.retry_after:
                minutes = max(minutes, exc.retry_after / 60)
            if isinstance(exc, NetworkError):
                vals["next_sync_at"] = fields.Datetime.now() + timedelta(minutes=minutes)
        self.write(vals)
        self._notify_clients(kind="status")
        self._log(kind, "error", str(exc), **totals)
        _logger.warning("MailDesk: %s failed for account %s: %s", kind, self.id, exc)

    def _log(self, kind, level, message, folder=None, duration=0.0, created=0, updated=0, removed=0):
        self.env["maildesk.sync.log"].sudo().create({
            "account_id": self.id, "folder_id": folder.id if folder else False, "kind": kind, "level": level,
            "message": message, "duration": duration, "created_count": created, "updated_count": updated,
            "removed_count": removed})

    # -- crons -------------------------------------------------------------------------------
    @api.model
    def _due_accounts(self):
        now = fields.Datetime.now()
        return self.search([("state", "!=", "needs_reauth"), "|", ("next_sync_at", "=", False),
                            ("next_sync_at", "<=", now)], order="last_sync_at asc nulls first, id")

    @api.model
    def _cron_sync(self):
        """Incremental sync of all active accounts, within a time budget."""
        deadline = time.monotonic() + CRON_TIME_BUDGET
        accounts = self._due_accounts()
        accounts._sync(commit=True, deadline=deadline)
        if time.monotonic() > deadline:
            self.env.ref("maildesk_mail_client.ir_cron_maildesk_sync")._trigger()

    @api.model
    def _cron_backfill(self):
        """Walk older history until it is all here, in short runs that re-trigger themselves.

        Each run works for ``BACKFILL_TIME_BUDGET`` seconds at most, then, when history is
        left, triggers the next run ``BACKFILL_PAUSE`` seconds later: the incremental sync
        (its own cron, every minute) gets the account lock in between, so new mail is
        never held up by a long backfill.
        """
        deadline = time.monotonic() + BACKFILL_TIME_BUDGET
        accounts = self._due_accounts()
        while time.monotonic() < deadline:
            pending = accounts.filtered(lambda a: a._backfill_left())
            if not pending:
                break
            pending._sync(commit=True, backfill=True, deadline=deadline)
            if all(a.state in ("error", "needs_reauth") for a in pending):
                break  # the back-off of the error decides when to try again
        if accounts.filtered(lambda a: a.state not in ("error", "needs_reauth") and a._backfill_left()):
            cron = self.env.ref("maildesk_mail_client.ir_cron_maildesk_backfill")
            cron._trigger(fields.Datetime.now() + timedelta(seconds=BACKFILL_PAUSE))

    def _backfill_left(self):
        """True while a folder of this mailbox still has older history to load."""
        self.ensure_one()
        return any(f.sync_state == "backfill" for f in self.folder_ids if f.selectable)

    @api.model
    def _cron_cleanup(self):
        """Prune old sync log lines."""
        limit = fields.Datetime.now() - timedelta(days=SYNC_LOG_RETENTION_DAYS)
        self.env["maildesk.sync.log"].sudo().search([("create_date", "<", limit)]).unlink()

    # -- sending ---------------------------------------------------------------------------------
    def _get_sender_name(self):
        """The display name of From: the mailbox's name, else the sending user's name.

        A mailbox named after its address ("a@x.org", the default) would give
        ``"a@x.org" <a@x.org>``; override to use e.g. a team name for shared mailboxes.
        """
        self.ensure_one()
        name = (self.name or "").strip()
        if not name or name.lower() == (self.email or "").strip().lower():
            return self.env.user.name or ""
        return name

    def _send_mail(self, to, cc, bcc, subject, body_html, attachments=(), parent=None, headers=None):
        """Send from this account and file the message in Sent at once; returns the record.

        ``headers``: extra headers (automation sends ``Auto-Submitted: auto-replied``).
        """
        self.ensure_one()
        self._check_can_operate()
        split = compose.split_addresses
        in_reply_to, references = (None, ())
        if parent:
            in_reply_to, references = compose.reply_headers(parent.message_id, (parent.references or "").split())
        try:
            raw, _message_id = compose.build_message(
                from_addr=compose.format_sender(self._get_sender_name(), self.email),
                to=split(to), cc=split(cc), bcc=split(bcc), subject=subject, body_html=body_html,
                attachments=attachments, in_reply_to=in_reply_to, references=references, headers=headers)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        recipients = compose.recipients(split(to), split(cc), split(bcc))
        sent = self.env["maildesk.folder"].sudo().search([("account_id", "=", self.id), ("role", "=", "sent")],
                                                         limit=1)
        try:
            # sudo: credentials are admin-only; access to the account was checked above.
            result = self.sudo()._deliver(raw, recipients, sent)
        except UnreachableError as exc:
            self.sudo()._log("send", "error", str(exc))
            raise NotSentError(_("The message was not sent: %s", exc)) from exc
        except ProviderError as exc:
            self.sudo()._log("send", "error", str(exc))
            raise UserError(_("The message was not sent: %s", exc)) from exc
        # Sent, possibly not to everyone: the copy is filed either way (a re-send would
        # duplicate it for those who got it); who was refused is on the message and logged.
        message = self.env["maildesk.message"]._store_sent(self.sudo(), sent, raw, result)
        if result.refused:
            self.sudo()._log("send", "warning", message.delivery_error)
        if sent and not result.sent_remote_id and self._files_sent_copy():
            # The copy reaches the server's Sent with the queue: now if IMAP answers, else later.
            Pending = self.env["maildesk.pending.action"]
            Pending._queue("append", sent, message, remote_ids=[], raw=raw)
            self.sudo()._replay_pending()
        return message

    def _files_sent_copy(self):
        """True when sent mail must be appended to the server's Sent by us (plain IMAP)."""
        return self.provider == "imap"

    def _deliver(self, raw, recipients, sent_folder):
        """Hand ``raw`` to the outgoing server; returns a ``SendResult``.

        IMAP mailboxes send through SMTP alone, so a down IMAP server never stops a send;
        the Sent copy is appended later (``_send_mail``). Gmail / Microsoft 365 send
        through their API, which files the copy itself.
        """
        if not self._files_sent_copy():
            with self._get_provider() as provider:
                return provider.send(raw, self.email, recipients, sent_folder._remote() if sent_folder else None)
        config = self._get_smtp_config()
        if not config:
            raise SendError(_("No outgoing (SMTP) server is set for %s.", self.name))
        refused = smtp.send_raw(config, raw, self.email, recipients)
        return SendResult(message_id=mime.message_key_from_headers(raw), refused=refused)

    def _replay_pending(self):
        """Best effort: replay this mailbox's queued changes now (the next sync does otherwise)."""
        self.ensure_one()
        Pending = self.env["maildesk.pending.action"]
        if not Pending._has_pending(self):
            return 0
        if not self._try_lock():
            return 0  # a sync holds the mailbox: it replays the queue itself
        try:
            with self._get_interactive_provider() as provider:
                return Pending._replay(self, provider)
        except ProviderError as exc:
            _logger.info("MailDesk: queued changes of %s wait for the server: %s", self.id, exc)
            return 0
        finally:
            self._unlock()
