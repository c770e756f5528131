"""New mail in seconds: wake-ups from IMAP IDLE, Gmail push and Microsoft Graph notifications.

Every real-time source ends in one method, ``_realtime_request_sync(ids, source)``: it
marks the mailboxes (``sync_requested_at``, one SQL statement) and, when at least one
was not marked yet, triggers the cron "MailDesk: sync on push". That cron runs the
normal, crash-safe ``_sync`` of the marked mailboxes only. A burst of 100 notifications
therefore marks once and triggers once. ``_sync`` clears the mark of every mailbox it
locks, right after taking the lock (the regular one-minute cron too: it stays the
safety net), so a wake-up that comes in while the mailbox syncs sets a new mark.

No lost wake-up
---------------
A mark set during a sync must cause another sync. Three rules make sure it does:

- The sync-on-push run loops: after its syncs it reads the marks again and syncs the
  re-marked mailboxes, until none is left or every one left is locked by another worker.
  That read first takes the *wake-up gate* exclusively (an advisory lock every wake-up
  holds shared while it marks), so a wake-up still in flight is waited for, never missed.
- Whoever releases a mailbox's lock (the minute cron, "Sync now", a backfill) hands
  over: if the mailbox was marked meanwhile, it triggers the sync-on-push cron (``_unlock``).
- Triggers are written with the database clock to the microsecond
  (``_realtime_trigger``). Odoo deletes, after each run of a cron, its triggers older than
  the run's start; ``ir.cron._trigger()`` truncates to the second, so a wake-up that came
  in during the first second of a run lost its trigger and waited for the one-minute
  cron: the 61 s outlier of ``bench_push.py``. A future trigger (``_trigger(now + 5 s)``)
  does not wake the cron workers either (Odoo notifies them only for due triggers): they
  find it on their next poll, up to a minute later. So every trigger here is due now.

The marks and the listener's reports live in their own table (``maildesk.account.realtime``),
and the provider subscriptions (Gmail watch, Graph subscription and its ``clientState``) in
another (``maildesk.account.push``), never in ``maildesk_account``: a sync runs in a
REPEATABLE READ cron transaction and writes its account row at the end; a wake-up, a
lifecycle notification or a renewal that updated that row meanwhile would make the sync
fail with a serialization error. Marks change with every notification, subscriptions a few
times a week: apart, a renewal never collides with a wake-up either. The account shows
both through computed fields.

Sources
-------
- IMAP: the ``maildesk-listener`` command (``cli/maildesk_listener.py``) reads
  ``_idle_watches()`` every few seconds and reports ``_idle_report()``.
- Gmail: ``users.watch`` of the whole mailbox (no label filter: mail that a Gmail filter
  files away from the Inbox wakes the sync too) on the Pub/Sub topic of the settings, renewed daily by
  ``_cron_push_renew`` (Google: at least every 7 days), ``users.stop`` on disconnect;
  pushes arrive at ``/maildesk/push/gmail`` (``controllers/push.py``).
- Microsoft 365: a Graph subscription on ``/me/messages`` with a random ``clientState``
  (stored encrypted), renewed a day before its 3-day expiry, re-created when Graph
  removes it, deleted on disconnect; notifications at ``/maildesk/push/graph``.
"""
import functools
import hashlib
import logging
import secrets as pysecrets
import threading
import time
from datetime import datetime, timedelta, timezone

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine import secrets
from ..engine.errors import ProviderError
from .maildesk_account import CRON_TIME_BUDGET

_logger = logging.getLogger(__name__)

PARAM = "maildesk_mail_client.%s"
IDLE_FRESH = timedelta(minutes=2)  # a listener report older than this means "not live"
GMAIL_RENEW_AFTER = timedelta(days=1)  # Google: re-call watch daily, at the latest every 7 days
GRAPH_LIFETIME = timedelta(minutes=4230)  # ~70 h, well under the 10,080 min cap for messages
GRAPH_RENEW_BEFORE = timedelta(hours=24)
GRAPH_CLEARED = {"graph_subscription_id": False, "graph_client_state_encrypted": False,
                 "graph_subscription_expires_at": False}
WAKE_GATE = (0x4D57, 0)  # "MW": advisory lock key of the wake-up gate (see "No lost wake-up")
SYNC_REQUESTED_CRON = "maildesk_mail_client.ir_cron_maildesk_sync_requested"
MARK_STALE = timedelta(seconds=60)  # a mark this old re-triggers (its trigger may have been lost)
REALTIME_FIELDS = ["sync_requested_at", "idle_state", "idle_checked_at", "realtime_mode"]
PUSH_FIELDS = ["gmail_watch_expires_at", "gmail_watch_renewed_at", "graph_subscription_id",
               "graph_subscription_expires_at", "realtime_mode"]
REALTIME_MODES = [("polling", "Polling"), ("idle", "Live (IMAP IDLE)"), ("push", "Live (push)")]


def _is_testing():
    return getattr(threading.current_thread(), "testing", False)


class MaildeskAccount(models.Model):
    _inherit = "maildesk.account"

    sync_requested_at = fields.Datetime(compute="_compute_realtime_state",
                                        help="A push or IDLE wake-up asked for a sync at this time.")
    live_folder_ids = fields.Many2many(
        "maildesk.folder", "maildesk_account_live_folder_rel", "account_id", "folder_id", string="Live Folders",
        domain="[('account_id', '=', id), ('selectable', '=', True)]",
        help="IMAP: folders watched live besides the Inbox (one IDLE connection each). Others sync every minute.")
    realtime_mode = fields.Selection(REALTIME_MODES, compute="_compute_realtime_mode", string="New Mail",
                                     help="Live: the server tells MailDesk about new mail within seconds. "
                                          "Polling: new mail appears with the next scheduled sync.")
    idle_state = fields.Char(compute="_compute_realtime_state", help="What the IMAP listener reported last.")
    idle_checked_at = fields.Datetime(compute="_compute_realtime_state")
    gmail_watch_expires_at = fields.Datetime(compute="_compute_push_state")
    gmail_watch_renewed_at = fields.Datetime(compute="_compute_push_state")
    graph_subscription_expires_at = fields.Datetime(compute="_compute_push_state")
    graph_subscription_id = fields.Char(compute="_compute_push_secret_state", groups="base.group_system")

    def _compute_realtime_state(self):
        # sudo: derived state of the account, readable by whoever reads the account.
        rows = {row.account_id.id: row for row in self.env["maildesk.account.realtime"].sudo().search(
            [("account_id", "in", self.ids)])}
        for account in self:
            row = rows.get(account.id)
            account.sync_requested_at = row.sync_requested_at if row else False
            account.idle_state = row.idle_state if row else False
            account.idle_checked_at = row.idle_checked_at if row else False

    def _push_rows(self):
        # sudo: derived state of the account; the table itself is for administrators only.
        return {row.account_id.id: row for row in self.env["maildesk.account.push"].sudo().search(
            [("account_id", "in", self.ids)])}

    def _compute_push_state(self):
        rows = self._push_rows()
        for account in self:
            row = rows.get(account.id)
            account.gmail_watch_expires_at = row.gmail_watch_expires_at if row else False
            account.gmail_watch_renewed_at = row.gmail_watch_renewed_at if row else False
            account.graph_subscription_expires_at = row.graph_subscription_expires_at if row else False

    def _compute_push_secret_state(self):
        rows = self._push_rows()
        for account in self:
            row = rows.get(account.id)
            account.graph_subscription_id = row.graph_subscription_id if row else False

    @api.depends("provider", "state", "active")
    def _compute_realtime_mode(self):
        now = fields.Datetime.now()
        for account in self:
            mode = "polling"
            if account.active and account.state != "needs_reauth":
                if account.provider == "imap":
                    if account.idle_state == "idle" and account.idle_checked_at \
                            and account.idle_checked_at > now - IDLE_FRESH:
                        mode = "idle"
                elif account.provider == "gmail":
                    if account.gmail_watch_expires_at and account.gmail_watch_expires_at > now:
                        mode = "push"
                elif account.graph_subscription_expires_at and account.graph_subscription_expires_at > now:
                    mode = "push"
            account.realtime_mode = mode

    # -- the one entry point of every wake-up ---------------------------------------------------
    @api.model
    def _realtime_request_sync(self, account_ids, source="push"):
        """Mark active mailboxes for sync and trigger the sync-on-push cron once; returns marked ids.

        Raw SQL: it runs for every notification (bursts of hundreds) and must neither load
        records nor wait for a sync in progress. Unknown, archived and signed-out
        mailboxes are skipped and logged, never reported back to the caller's client.
        """
        ids = sorted({int(i) for i in account_ids if i})
        if not ids:
            return []
        cr = self.env.cr
        # Held until this transaction ends: the sync-on-push run waits for it before it
        # decides that no mark is left (see "No lost wake-up").
        cr.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", WAKE_GATE)
        cr.execute("""
            INSERT INTO maildesk_account_realtime (account_id, sync_requested_at)
                 SELECT id, now() AT TIME ZONE 'UTC' FROM maildesk_account
                  WHERE id = ANY(%s) AND active AND state != 'needs_reauth'
            ON CONFLICT (account_id) DO UPDATE SET sync_requested_at = EXCLUDED.sync_requested_at
                  WHERE maildesk_account_realtime.sync_requested_at IS NULL
                     OR maildesk_account_realtime.sync_requested_at < EXCLUDED.sync_requested_at - %s
              RETURNING account_id""", (ids, MARK_STALE))
        marked = [row[0] for row in cr.fetchall()]
        cr.execute("SELECT id FROM maildesk_account WHERE id = ANY(%s) AND active AND state != 'needs_reauth'",
                   (ids,))
        valid = {row[0] for row in cr.fetchall()}
        ignored = set(ids) - valid
        if ignored:
            _logger.info("MailDesk %s wake-up ignored for unknown or inactive mailboxes %s", source, sorted(ignored))
        self.env["maildesk.account.realtime"].invalidate_model()
        self.invalidate_model(REALTIME_FIELDS)
        if marked:
            self._realtime_trigger()
            _logger.debug("MailDesk %s wake-up: sync requested for %s", source, marked)
        return marked

    @api.model
    def _realtime_trigger(self):
        """Trigger the sync-on-push cron now, in this transaction; the workers wake at its commit.

        Not ``ir.cron._trigger()``: its time is truncated to the second, and Odoo deletes
        after a run the triggers older than the run's start, so a trigger written during
        the first second of a run was lost (module docstring). The database clock keeps
        the microseconds: a trigger written after a run started outlives that run.
        """
        cron = self.env.ref(SYNC_REQUESTED_CRON)
        # Raw SQL: the same row ir.cron._trigger() writes, with the database clock.
        self.env.cr.execute("INSERT INTO ir_cron_trigger (cron_id, call_at) "
                            "VALUES (%s, clock_timestamp() AT TIME ZONE 'UTC')", (cron.id,))
        # sudo: waking the cron workers is what _trigger() does for any caller.
        self.env.cr.postcommit.add(cron.sudo()._notifydb)

    def _sync_between(self, commit):
        """Inside a long cron run (the minute sync, the backfill) serve wake-ups first.

        A cron thread busy with a 50-second run would otherwise hold a pushed mailbox back
        until it is done; this keeps the push latency independent of the other crons.
        """
        super()._sync_between(commit)
        if not commit or self.env.context.get("maildesk_serving_wakeups"):
            return
        requested = self._requested_ids()
        if requested:
            self.browse(requested).exists().with_context(maildesk_serving_wakeups=True)._sync(commit=True)

    def _sync_started(self, commit):
        """Called by ``_sync`` once it holds the account's lock: the coming sync covers the mark."""
        super()._sync_started(commit)
        started = self.env.context.get("maildesk_started")
        if started is not None:
            started.append(self.id)  # the sync-on-push run tells synced from locked elsewhere
        query = ("UPDATE maildesk_account_realtime SET sync_requested_at = NULL "
                 "WHERE account_id = %s AND sync_requested_at IS NOT NULL")
        if commit:
            # Its own short transaction (cron only): the cron's snapshot may predate a newer
            # mark, and a wake-up during this sync must find the mark cleared and set it again.
            with self.env.registry.cursor() as cr:
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                cr.execute(query, (self.id,))
            # cron only: end the snapshot taken before the lock. Another cron may have synced
            # (and written) this account meanwhile; writing it from an older snapshot would
            # fail with a serialization error. The advisory lock is session-level: it stays.
            self.env.cr.commit()
        else:
            self.env.cr.execute(query, (self.id,))
        self.env["maildesk.account.realtime"].invalidate_model()
        self.invalidate_model(REALTIME_FIELDS)

    def _unlock(self, commit=True):
        """Release the mailbox, then hand over a wake-up that came in during its sync.

        The sync-on-push run skips a mailbox another worker holds and does not come back
        to it: the holder, here, triggers that run again when the mailbox was marked
        meanwhile. After the release, so the triggered run can take the lock.
        """
        super()._unlock(commit)
        if self.env.context.get("maildesk_wakeup_loop"):
            return  # the sync-on-push run reads the marks again itself
        if commit:
            self._realtime_handover_committed(self.env.registry, self.ids)
        else:
            # "Sync now": the transaction-level lock ends with the request's commit.
            self.env.cr.postcommit.add(functools.partial(self._realtime_handover_committed,
                                                         self.env.registry, self.ids))

    @api.model
    def _realtime_handover_committed(self, registry, account_ids):
        # A new cursor: its snapshot starts after the lock's release, so it sees every mark
        # committed before, and its commit wakes the cron workers.
        with registry.cursor() as cr:
            self.with_env(self.env(cr=cr)).browse(account_ids)._realtime_handover()

    def _realtime_handover(self):
        """Trigger the sync-on-push cron when one of these mailboxes is marked; True if so."""
        self.env.cr.execute("SELECT 1 FROM maildesk_account_realtime WHERE account_id = ANY(%s) "
                            "AND sync_requested_at IS NOT NULL LIMIT 1", (self.ids,))
        if not self.env.cr.fetchone():
            return False
        self._realtime_trigger()
        return True

    @api.model
    def _requested_ids(self):
        self.env.cr.execute("SELECT account_id FROM maildesk_account_realtime WHERE sync_requested_at IS NOT NULL "
                            "ORDER BY sync_requested_at, account_id")
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _requested_ids_settled(self, commit):
        """The marked mailboxes once every wake-up in flight has committed (the gate)."""
        if not commit:
            return self._requested_ids()
        with self.env.registry.cursor() as cr:
            # Read committed: the read after the wait must see what the wait was for.
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", WAKE_GATE)
            return self.with_env(self.env(cr=cr))._requested_ids()

    @api.model
    def _cron_sync_requested(self):
        """Sync the mailboxes a push or IDLE wake-up marked, again while marks come in; nothing else.

        Ends when no mark is left, or when every marked mailbox is locked by another worker
        (that worker hands over when it releases it, ``_unlock``), or at the time budget
        (then it triggers itself for the rest).
        """
        deadline = time.monotonic() + CRON_TIME_BUDGET
        commit = not _is_testing()
        while True:
            requested = self._requested_ids_settled(commit)
            if not requested:
                return
            if time.monotonic() > deadline:
                self._realtime_trigger()
                return
            started = []
            self.browse(requested).exists().with_context(
                maildesk_serving_wakeups=True, maildesk_wakeup_loop=True, maildesk_started=started,
            )._sync(commit=True, deadline=deadline)
            if not started:
                return  # all locked elsewhere: their holders hand over

    # -- IMAP IDLE (the maildesk-listener command) -----------------------------------------------
    @api.model
    def _idle_watches(self):
        """What the IDLE listener should watch: one dict per (mailbox, folder).

        Called by the listener process as superuser; passwords leave the database only
        here, decrypted for the IMAP login, never logged.
        """
        accounts = self.sudo().search([("provider", "=", "imap"), ("active", "=", True),
                                       ("state", "!=", "needs_reauth"), ("imap_host", "!=", False)])
        watches = []
        for account in accounts:
            try:
                config = account._get_imap_config()
            except Exception as exc:  # noqa: BLE001 - e.g. undecryptable password: skip, the cron reports it
                _logger.info("MailDesk IDLE: mailbox %s cannot be watched: %s", account.id, exc)
                continue
            paths = ["INBOX"] + [f.path for f in account.live_folder_ids if f.path.upper() != "INBOX"]
            inbox = account.folder_ids.filtered(lambda f: f.role == "inbox")[:1]
            if inbox:
                paths[0] = inbox.path
            # Changes when anything of the login changes: the listener then reconnects.
            fingerprint = hashlib.sha256(
                f"{config.host}|{config.port}|{config.security}|{config.login}|{config.password}|"
                f"{config.ssl_verify}".encode()).hexdigest()
            for path in dict.fromkeys(paths):
                watches.append({"account_id": account.id, "folder": path, "config": config,
                                "fingerprint": fingerprint})
        return watches

    @api.model
    def _idle_report(self, states):
        """Store the listener's view: ``{account_id: state}``, state 'idle' when every folder is.

        The clients of a mailbox that turns live or stops being live are told at once. A
        listener that stopped reporting (killed, host down) turns its mailboxes to polling
        after ``IDLE_FRESH``; the clients see it with the next status of the mailbox (every
        sync sends one, the one-minute cron included). A listener that stops cleanly
        reports 'stopped'.
        """
        now = fields.Datetime.now()
        ids = list(states)
        was_live = set(self.browse(ids).exists().filtered(lambda a: a.realtime_mode == "idle").ids)
        # Raw SQL: one statement every few seconds, on the side table (see the module docstring).
        self.env.cr.execute("""
            INSERT INTO maildesk_account_realtime (account_id, idle_state, idle_checked_at)
                 SELECT a.id, s.state, %s FROM maildesk_account a
                   JOIN unnest(%s::int[], %s::varchar[]) AS s(id, state) ON s.id = a.id
            ON CONFLICT (account_id) DO UPDATE SET idle_state = EXCLUDED.idle_state,
                                                   idle_checked_at = EXCLUDED.idle_checked_at""",
                            (now, ids, [states[i] for i in ids]))
        self.env["maildesk.account.realtime"].invalidate_model()
        self.invalidate_model(REALTIME_FIELDS)
        for account in self.browse(ids).exists():
            if (account.realtime_mode == "idle") != (account.id in was_live):
                account._notify_clients(kind="status")

    # -- push subscription state (maildesk.account.push) ------------------------------------------
    def _push_state_write(self, vals):
        """Store subscription state in the mailbox's push row (never the account row, see above).

        When that changes whether the mailbox is live, the open clients are told at once.
        """
        self.ensure_one()
        before = self.realtime_mode
        # Raw SQL: create the row if missing; a renewal and a lifecycle notification may race.
        self.env.cr.execute("INSERT INTO maildesk_account_push (account_id) VALUES (%s) "
                            "ON CONFLICT (account_id) DO NOTHING", (self.id,))
        # sudo: the push table is for administrators only; the callers are crons and webhooks.
        self.env["maildesk.account.push"].sudo().search([("account_id", "=", self.id)]).write(vals)
        self.invalidate_recordset(PUSH_FIELDS)
        if self.realtime_mode != before:
            self._notify_clients(kind="status")

    # -- push settings -----------------------------------------------------------------------------
    @api.model
    def _push_base_url(self):
        params = self.env["ir.config_parameter"].sudo()
        return (params.get_param(PARAM % "push_base_url") or params.get_param("web.base.url", "")).rstrip("/")

    @api.model
    def _gmail_topic(self):
        return self._param("gmail_pubsub_topic")

    @api.model
    def _graph_push_enabled(self):
        return bool(self._param("graph_push"))

    # -- Gmail watch ---------------------------------------------------------------------------------
    def _gmail_watch(self):
        """Start or renew ``users.watch`` on the configured topic."""
        self.ensure_one()
        topic = self._gmail_topic()
        if not topic:
            return False
        with self._get_provider() as provider:
            answer = provider.watch(topic)
        expires = datetime.fromtimestamp(answer["expiration"] / 1000, tz=timezone.utc).replace(tzinfo=None) \
            if answer["expiration"] else fields.Datetime.now() + timedelta(days=7)
        self._push_state_write({"gmail_watch_expires_at": expires, "gmail_watch_renewed_at": fields.Datetime.now()})
        return True

    def _gmail_stop(self):
        self.ensure_one()
        if not self.gmail_watch_expires_at:
            return False
        try:
            with self._get_provider() as provider:
                provider.stop_watch()
        except ProviderError as exc:
            _logger.info("MailDesk: users.stop for mailbox %s failed: %s", self.id, exc)
        self._push_state_write({"gmail_watch_expires_at": False, "gmail_watch_renewed_at": False})
        return True

    # -- Graph subscription ----------------------------------------------------------------------------
    def _graph_urls(self):
        base = self._push_base_url()
        return base + "/maildesk/push/graph", base + "/maildesk/push/graph/lifecycle"

    def _graph_subscribe(self):
        """Create the subscription (a new clientState each time); Graph validates our URL first."""
        self.ensure_one()
        sudo_self = self.sudo()
        if sudo_self.graph_subscription_id:
            self._graph_unsubscribe()
        client_state = pysecrets.token_urlsafe(32)
        notify_url, lifecycle_url = self._graph_urls()
        expires = datetime.now(timezone.utc) + GRAPH_LIFETIME
        with self._get_provider() as provider:
            answer = provider.create_subscription(notify_url, lifecycle_url, client_state, expires)
        self._push_state_write({
            "graph_subscription_id": answer["id"],
            "graph_client_state_encrypted": secrets.encrypt(self._get_encryption_key(), client_state),
            "graph_subscription_expires_at": answer["expires_at"] or expires.replace(tzinfo=None)})
        return True

    def _graph_renew(self):
        self.ensure_one()
        sudo_self = self.sudo()
        expires = datetime.now(timezone.utc) + GRAPH_LIFETIME
        try:
            with self._get_provider() as provider:
                answer = provider.renew_subscription(sudo_self.graph_subscription_id, expires)
        except ProviderError as exc:
            if getattr(exc, "status", None) != 404:
                raise
            return self._graph_subscribe()  # Graph dropped it: subscribe again
        self._push_state_write({"graph_subscription_expires_at": answer["expires_at"] or expires.replace(tzinfo=None)})
        return True

    def _graph_unsubscribe(self):
        self.ensure_one()
        sudo_self = self.sudo()
        if not sudo_self.graph_subscription_id:
            return False
        try:
            with self._get_provider() as provider:
                provider.delete_subscription(sudo_self.graph_subscription_id)
        except ProviderError as exc:
            _logger.info("MailDesk: deleting the Graph subscription of mailbox %s failed: %s", self.id, exc)
        self._push_state_write(GRAPH_CLEARED)
        return True

    def _push_stop(self):
        """Stop provider push for these mailboxes (disconnect, archive, delete); best effort."""
        for account in self.sudo():
            try:
                if account.provider == "gmail":
                    account._gmail_stop()
                elif account.provider == "outlook":
                    account._graph_unsubscribe()
            except (ProviderError, UserError) as exc:
                _logger.info("MailDesk: stopping push for mailbox %s failed: %s", account.id, exc)

    @api.model
    def _cron_push_renew(self):
        """Start, renew or re-create Gmail watches and Graph subscriptions before they expire."""
        now = fields.Datetime.now()
        accounts = self.sudo().search([("provider", "in", ("gmail", "outlook")), ("active", "=", True),
                                       ("state", "!=", "needs_reauth")])
        topic, graph = self._gmail_topic(), self._graph_push_enabled()
        for account in accounts:
            try:
                if account.provider == "gmail":
                    if not topic:
                        continue
                    renewed = account.gmail_watch_renewed_at
                    if not account.gmail_watch_expires_at or account.gmail_watch_expires_at <= now \
                            or not renewed or renewed <= now - GMAIL_RENEW_AFTER:
                        account._gmail_watch()
                elif graph:
                    if not account.graph_subscription_id:
                        account._graph_subscribe()
                    elif not account.graph_subscription_expires_at \
                            or account.graph_subscription_expires_at <= now + GRAPH_RENEW_BEFORE:
                        account._graph_renew()
            except (ProviderError, UserError) as exc:
                _logger.warning("MailDesk: push renewal for mailbox %s failed: %s", account.id, exc)
                account._log("sync", "warning", _("Live updates could not be renewed: %s", exc))
            if not _is_testing():
                self.env.cr.commit()  # cron only: one mailbox's renewal is kept even if the next fails

    # -- notifications (called by controllers/push.py, as superuser) -------------------------------------
    @api.model
    def _push_gmail(self, email, history_id, message_id=None):
        """A verified Gmail push: mark the mailbox unless the push is not newer than one already taken.

        The replay guard: ``push_history_id`` is stored in this transaction, with the mark,
        so it holds for every worker process and after a restart, and a push whose
        handling failed is taken when Pub/Sub delivers it again (``engine/push.py``).
        """
        accounts = self.sudo().search([("provider", "=", "gmail"), ("email", "=ilike", email)])
        if not accounts:
            _logger.info("MailDesk Gmail push for an unknown mailbox ignored")
            return []
        # Only a push newer than the last one taken counts (replays and stale pushes do not).
        self.env.cr.execute("""
            INSERT INTO maildesk_account_realtime (account_id, push_history_id)
                 SELECT unnest(%s::int[]), %s
            ON CONFLICT (account_id) DO UPDATE SET push_history_id = EXCLUDED.push_history_id
                  WHERE coalesce(maildesk_account_realtime.push_history_id, '0')::numeric
                        < EXCLUDED.push_history_id::numeric
              RETURNING account_id""", (accounts.ids, str(history_id)))
        fresh = [row[0] for row in self.env.cr.fetchall()]
        if len(fresh) < len(accounts):
            _logger.info("MailDesk Gmail push %s ignored for %s (replay or out of order): historyId %s "
                         "not newer than the last one taken", message_id or "", sorted(set(accounts.ids) - set(fresh)),
                         history_id)
        return self._realtime_request_sync(fresh, source="gmail")

    @api.model
    def _push_graph(self, notifications, lifecycle=False):
        """Graph notifications: the ones whose clientState matches their subscription act."""
        from ..engine.push import secret_equal

        key = self._get_encryption_key()
        ids = list({n["subscription_id"] for n in notifications})
        # sudo: the subscription table is admin-only; the webhook has no user.
        by_id = {row.graph_subscription_id: row for row in self.env["maildesk.account.push"].sudo().search(
            [("graph_subscription_id", "in", ids)])}
        wake, renew = [], self.browse()
        for note in notifications:
            row = by_id.get(note["subscription_id"])
            expected = None
            if row and row.graph_client_state_encrypted:
                try:
                    expected = secrets.decrypt(key, row.graph_client_state_encrypted)
                except secrets.SecretError:
                    expected = None
            if not secret_equal(note["client_state"], expected):
                _logger.warning("MailDesk Graph notification rejected: unknown subscription or wrong clientState")
                continue
            account = row.account_id
            event = note["lifecycle_event"]
            if event == "subscriptionRemoved":
                account._push_state_write(GRAPH_CLEARED)  # polling until the renewal cron subscribes again
                renew |= account
            elif event == "reauthorizationRequired":
                # Graph stops delivering until the subscription is reauthorized: not live meanwhile.
                account._push_state_write({"graph_subscription_expires_at": fields.Datetime.now()})
                renew |= account
            wake.append(account.id)  # every event (missed included) may hide changes: sync
        if renew:
            self.env.ref("maildesk_mail_client.ir_cron_maildesk_push_renew").sudo()._trigger()
        return self._realtime_request_sync(wake, source="graph")

    # -- lifecycle of the mailbox ------------------------------------------------------------------------
    def action_oauth_disconnect(self):
        self.ensure_one()
        self.check_access_rule("write")
        self._push_stop()
        return super().action_oauth_disconnect()

    def _oauth_finish(self, request_secret, params):
        email = super()._oauth_finish(request_secret, params)
        self.env.ref("maildesk_mail_client.ir_cron_maildesk_push_renew").sudo()._trigger()
        return email

    def write(self, vals):
        # Stop push only once the archive was allowed and stored: _push_stop runs as superuser,
        # so before super() a member who may not archive could still switch push off.
        stopping = self.filtered("active") if vals.get("active") is False else self.browse()
        result = super().write(vals)
        stopping._push_stop()
        return result

    def unlink(self):
        # The rows are gone after super(): check the caller's right first, then stop push.
        self.check_access_rights("unlink")
        self.check_access_rule("unlink")
        self._push_stop()
        return super().unlink()


class MaildeskAccountRealtime(models.Model):
    """Wake-up marks and listener reports, one row per mailbox (see the module docstring)."""

    _name = "maildesk.account.realtime"
    _description = "Mailbox live-update state"
    _log_access = False

    account_id = fields.Many2one("maildesk.account", required=True, ondelete="cascade", index=True)
    sync_requested_at = fields.Datetime()
    idle_state = fields.Char()
    idle_checked_at = fields.Datetime()
    push_history_id = fields.Char("Gmail historyId of the last push taken")  # uint64 at Google: compared as numeric

    _sql_constraints = [("account_uniq", "unique(account_id)", "One live-update state per mailbox.")]


class MaildeskAccountPush(models.Model):
    """Provider push subscription of a mailbox, one row per mailbox (see the module docstring)."""

    _name = "maildesk.account.push"
    _description = "Mailbox push subscription"
    _log_access = False

    account_id = fields.Many2one("maildesk.account", required=True, ondelete="cascade", index=True)
    gmail_watch_expires_at = fields.Datetime()
    gmail_watch_renewed_at = fields.Datetime()
    graph_subscription_id = fields.Char(index=True)
    graph_subscription_expires_at = fields.Datetime()
    graph_client_state_encrypted = fields.Char()  # Fernet, with the mailbox secrets' key

    _sql_constraints = [("account_uniq", "unique(account_id)", "One push subscription per mailbox.")]
