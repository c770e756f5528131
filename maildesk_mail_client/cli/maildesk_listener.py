"""``odoo-bin maildesk-listener``: IMAP IDLE for every active IMAP mailbox, as its own process.

What it is
----------
A long-running process, started next to the Odoo server (its own docker compose
service, systemd unit or supervisor program). It reads the same configuration file as
the server (``-c``/``--database``/``--db_host`` ...), keeps one IDLE connection per
watched folder of every active IMAP mailbox (INBOX plus the mailbox's *Live Folders*)
and, when a folder changes, marks the mailbox for sync and triggers the cron "MailDesk:
sync on push". The sync runs in Odoo's cron worker through the normal, crash-safe path.

Why a separate process (see also the README's "Architecture notes")
-------------------------------------------------------------------
- It behaves the same whether Odoo runs threaded or with ``--workers=N``: prefork
  workers are recycled (``limit_time_real``, ``limit_request``, memory limits) and forked
  from a master that must not hold sockets, so neither is a home for hundreds of
  long-lived IMAP connections; a server-wide module thread would have to be wired into
  both server types and would die with every worker restart.
- It can be restarted, scaled down or left out (the one-minute cron keeps working)
  without touching the web server.

How it works
------------
Every ``--interval`` seconds (default 10) it asks each database for
``maildesk.account._idle_watches()`` and hands that desired set to
``engine.realtime.IdleListener.reconcile``: new mailboxes get connections, archived or
deleted ones lose them, a changed password reconnects. Wake-ups pass through a
``Coalescer`` (a burst of notifications -> one mark per mailbox), and the listener's
view of each mailbox is written back (``_idle_report``) so the client can show
"live" or "polling".

Run it::

    odoo-bin --addons-path=... maildesk-listener -c /etc/odoo/odoo.conf -d maildesk

Options: ``--interval`` (reconcile period, s), ``--max-per-server`` (IDLE connections
per IMAP host:port; over the cap mailboxes wait and are polled by the cron).
Several databases: ``-d db1,db2``; none given: every database where the addon is
installed.
"""
import argparse
import logging
import signal
import threading

import odoo
from odoo import SUPERUSER_ID, api
from odoo.cli import Command

from ..engine.realtime import IDLE, MAX_PER_SERVER, Coalescer, IdleListener, Watch

_logger = logging.getLogger(__name__)

MODULE = "maildesk_mail_client"
STATE_RANK = {"error": 0, "waiting": 1, "connecting": 2, "polling": 3, IDLE: 4}


class ListenerService:
    """The loop of the command, usable on its own (tests, benchmarks)."""

    def __init__(self, db_names, interval=10.0, max_per_server=MAX_PER_SERVER, **listener_kw):
        self.db_names = list(db_names)
        self.interval = interval
        self.listener = IdleListener(self._on_change, max_per_server=max_per_server, **listener_kw)
        self.coalescer = Coalescer(self._flush, delay=0.05, max_delay=0.5)
        self.stopping = threading.Event()
        self._last = {}  # db -> watches of its last successful read
        self.wakeups = 0

    # -- wake-ups -----------------------------------------------------------------------------
    def _on_change(self, watch):
        self.wakeups += 1
        db, account_id, _folder = watch.key
        self.coalescer.add((db, account_id))

    def _flush(self, keys):
        by_db = {}
        for db, account_id in keys:
            by_db.setdefault(db, []).append(account_id)
        for db, ids in by_db.items():
            with odoo.registry(db).cursor() as cr:
                # READ COMMITTED: a mark row a sync just cleared is marked again instead of
                # failing with a serialization error; never wait long (the coalescer retries).
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                cr.execute("SET LOCAL lock_timeout = '5s'")
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["maildesk.account"]._realtime_request_sync(ids, source="idle")

    # -- reconcile ---------------------------------------------------------------------------
    def reconcile_once(self):
        for db in self.db_names:
            try:
                registry = odoo.registry(db).check_signaling()
                with registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    self._last[db] = [
                        Watch(key=(db, w["account_id"], w["folder"]), config=w["config"], folder=w["folder"],
                              fingerprint=w["fingerprint"])
                        for w in env["maildesk.account"]._idle_watches()]
            except Exception:  # noqa: BLE001 - a database hiccup keeps the current connections
                _logger.exception("MailDesk listener: reading the mailboxes of %s failed", db)
        self.listener.reconcile([w for watches in self._last.values() for w in watches])
        self.report()

    def report(self):
        per_account = {}
        for (db, account_id, _folder), (state, _error) in self.listener.states().items():
            current = per_account.get((db, account_id))
            if current is None or STATE_RANK.get(state, 0) < STATE_RANK.get(current, 0):
                per_account[(db, account_id)] = state
        for db in self.db_names:
            states = {account_id: state for (d, account_id), state in per_account.items() if d == db}
            if not states:
                continue
            try:
                with odoo.registry(db).cursor() as cr:
                    cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    cr.execute("SET LOCAL lock_timeout = '2s'")
                    api.Environment(cr, SUPERUSER_ID, {})["maildesk.account"]._idle_report(states)
            except Exception:  # noqa: BLE001 - the report is informative; the next round retries
                _logger.info("MailDesk listener: reporting to %s failed", db, exc_info=True)

    def run(self):
        _logger.info("MailDesk listener: watching IMAP mailboxes of %s", ", ".join(self.db_names))
        while not self.stopping.is_set():
            self.reconcile_once()
            self.stopping.wait(self.interval)
        self.close()

    def close(self):
        watched = {key[:2] for key in self.listener.states()}
        self.listener.stop()
        self.coalescer.close()
        # Tell the clients at once that these mailboxes are polled now (not after IDLE_FRESH).
        for db in self.db_names:
            states = {account_id: "stopped" for d, account_id in watched if d == db}
            if not states:
                continue
            try:
                with odoo.registry(db).cursor() as cr:
                    cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    cr.execute("SET LOCAL lock_timeout = '2s'")
                    api.Environment(cr, SUPERUSER_ID, {})["maildesk.account"]._idle_report(states)
            except Exception:  # noqa: BLE001 - best effort at shutdown; staleness covers it
                _logger.info("MailDesk listener: final report to %s failed", db, exc_info=True)


def _databases():
    names = [d for d in (odoo.tools.config["db_name"] or "").split(",") if d]
    if names:
        return names
    found = []
    for db in odoo.service.db.list_dbs(force=True):
        try:
            with odoo.sql_db.db_connect(db).cursor() as cr:
                cr.execute("SELECT 1 FROM ir_module_module WHERE name = %s AND state = 'installed'", (MODULE,))
                if cr.fetchone():
                    found.append(db)
        except Exception:  # noqa: BLE001 - not an Odoo database
            continue
    return found


class MaildeskListener(Command):
    """MailDesk: IMAP IDLE listener (new mail in seconds)"""

    name = "maildesk-listener"

    def run(self, args):
        parser = argparse.ArgumentParser(prog="odoo-bin maildesk-listener",
                                         description="Keep IDLE connections to the IMAP mailboxes of MailDesk and "
                                                     "trigger their sync when mail arrives. Other options are "
                                                     "Odoo's (-c, -d, --db_host, ...).")
        parser.add_argument("--interval", type=float, default=10.0, help="seconds between two reconciliations")
        parser.add_argument("--max-per-server", type=int, default=MAX_PER_SERVER,
                            help="IDLE connections per IMAP server at most")
        opts, odoo_args = parser.parse_known_args(args)
        odoo.tools.config.parse_config(odoo_args)
        databases = _databases()
        if not databases:
            raise SystemExit("maildesk-listener: no database with MailDesk installed (use -d).")
        service = ListenerService(databases, interval=opts.interval, max_per_server=opts.max_per_server)

        def stop(_signum, _frame):
            service.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        service.run()
