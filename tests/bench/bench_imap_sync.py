#!/usr/bin/env python3
"""Benchmark: IMAP initial sync, full ingest, no-change resync, memory, SQL per message.

Seeds N generated messages (realistic sizes, some HTML, ~10% attachments, threads) into
a private Dovecot, then measures:

1. engine only   provider -> in-memory store (fetch + MIME parse + sanitize)
2. Odoo ingest   ``maildesk.account._sync`` into a real Odoo database (records,
                 threads, attachments), with SQL queries per message and peak RSS growth
3. no-change resync of the whole account (connect, LIST, STATUS per folder)
4. Odoo's own ``fetchmail.server`` on the same kind of mailbox, and the ratio

Prints figures; it is not a test. Needs Odoo 17 importable (or ``--engine-only``) and
PostgreSQL; creates and drops its own database.

    python3 tests/bench/bench_imap_sync.py -n 10000 --fetchmail-n 1000
"""
import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

import types  # noqa: E402

# The engine without Odoo: the addon folder as a bare package (its __init__ imports odoo).
_pkg = types.ModuleType("maildesk_mail_client")
_pkg.__path__ = [str(REPO / "maildesk_mail_client")]
sys.modules.setdefault("maildesk_mail_client", _pkg)

from harness import mailgen  # noqa: E402
from harness.dovecot import DovecotServer  # noqa: E402


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed(server, n, seed_value):
    login, password = server.new_user()
    raws = list(mailgen.generate(n, seed=seed_value))
    total = sum(len(r) for r in raws)
    server.seed_maildir(login, "INBOX", raws)
    return login, password, total


def bench_engine(server, login, password, n):
    from maildesk_mail_client.engine import mime
    from maildesk_mail_client.engine.imap import ImapConfig, ImapProvider
    from maildesk_mail_client.engine.provider import LocalView, SyncOptions

    config = ImapConfig(host=server.host, port=server.port, security="none", login=login, password=password)
    options = SyncOptions(bootstrap=n, batch_size=200)
    count = 0
    started = time.perf_counter()
    with ImapProvider(config) as provider:
        inbox = next(f for f in provider.list_folders() if f.role == "inbox")
        for batch in provider.sync_folder(inbox, {}, LocalView(), options):
            for message in batch.messages:
                # Large syncs arrive parsed by the engine's workers (prefetch); small ones do not.
                message.parsed or mime.parse_message(message.raw)
                count += 1
    elapsed = time.perf_counter() - started
    print(f"engine   : {count} messages fetched+parsed+sanitized in {elapsed:.2f} s = {count / elapsed:,.0f} msg/s")


def odoo_db(db, addons):
    import odoo
    addons_path = [str(Path(odoo.__file__).parent / "addons"), str(Path(odoo.__file__).parent.parent / "addons"),
                   str(REPO)]
    addons_path = ",".join(p for p in addons_path if os.path.isdir(p))
    subprocess.run(["dropdb", "--if-exists", db], check=False)
    subprocess.run([sys.executable, "-m", "odoo", "-d", db, "-i", addons, "--stop-after-init", "--without-demo=all",
                    f"--addons-path={addons_path}", "--log-level=warn", "--http-port=0", "--no-http"],
                   check=True)
    odoo.tools.config.parse_config([f"--addons-path={addons_path}", "-d", db])
    return odoo.registry(db)


def bench_odoo(server, login, password, n, fetch_login, fetch_password, fetch_n):
    import odoo
    from odoo import SUPERUSER_ID, api

    db = f"maildesk_bench_{os.getpid()}"
    registry = odoo_db(db, "maildesk_mail_client,mail")
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            account = env["maildesk.account"].create({
                "name": "bench", "email": login, "imap_host": server.host, "imap_port": server.port,
                "imap_security": "none", "imap_login": login, "imap_password": password, "bootstrap_size": n})
            cr.commit()
            rss_before = rss_mb()
            queries_before = cr.sql_log_count
            started = time.perf_counter()
            account._sync(commit=True)
            elapsed = time.perf_counter() - started
            queries = cr.sql_log_count - queries_before
            stored = env["maildesk.message"].search_count([("account_id", "=", account.id)])
            attachments = env["ir.attachment"].search_count([("res_model", "=", "maildesk.message")])
            threads = env["maildesk.thread"].search_count([("account_id", "=", account.id)])
            print(f"odoo     : {stored} messages ({threads} threads, {attachments} attachments) ingested in "
                  f"{elapsed:.2f} s = {stored / elapsed:,.0f} msg/s")
            print(f"           SQL queries: {queries} = {queries / max(stored, 1):.2f} per message; "
                  f"peak RSS growth {rss_mb() - rss_before:.0f} MB (peak RSS {rss_mb():.0f} MB)")
            timings = []
            for _ in range(5):
                started = time.perf_counter()
                account._sync(commit=True)
                timings.append(time.perf_counter() - started)
            print(f"resync   : no-change resync of the account: best {min(timings) * 1000:.1f} ms, "
                  f"median {sorted(timings)[2] * 1000:.1f} ms")

            if fetch_login:
                server_rec = env["fetchmail.server"].create({
                    "name": "bench", "server_type": "imap", "server": server.host, "port": server.port,
                    "is_ssl": False, "user": fetch_login, "password": fetch_password,
                    "object_id": env["ir.model"]._get("res.partner").id, "state": "done"})
                cr.commit()
                started = time.perf_counter()
                server_rec.fetch_mail()
                fm_elapsed = time.perf_counter() - started
                partners = env["res.partner"].search_count([("create_date", "!=", False)])
                fm_rate = fetch_n / fm_elapsed
                print(f"fetchmail: {fetch_n} messages in {fm_elapsed:.2f} s = {fm_rate:,.1f} msg/s "
                      f"({partners} partners in db)")
                print(f"ratio    : MailDesk ingest is {stored / elapsed / fm_rate:.1f}x Odoo fetchmail")
    finally:
        registry.delete(db) if hasattr(registry, "delete") else None
        odoo.sql_db.close_all()
        subprocess.run(["dropdb", "--if-exists", db], check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10000, help="messages in the benchmark mailbox")
    parser.add_argument("--fetchmail-n", type=int, default=1000, help="messages for the fetchmail run (0 = skip)")
    parser.add_argument("--engine-only", action="store_true")
    args = parser.parse_args()
    server = DovecotServer()
    server.start()
    print("load     : %.2f %.2f %.2f (1/5/15 min averages) on %s cores" % (*os.getloadavg(), os.cpu_count()))
    try:
        started = time.perf_counter()
        login, password, size = seed(server, args.n, 1)
        print(f"seed     : {args.n} messages, {size / 1e6:.0f} MB, in {time.perf_counter() - started:.1f} s")
        bench_engine(server, login, password, args.n)
        if args.engine_only:
            return
        fetch_login = fetch_password = None
        if args.fetchmail_n:
            fetch_login, fetch_password, _size = seed(server, args.fetchmail_n, 2)
        login2, password2, _size = seed(server, args.n, 1)
        bench_odoo(server, login2, password2, args.n, fetch_login, fetch_password, args.fetchmail_n)
    finally:
        server.stop()
        print("load     : %.2f %.2f %.2f at the end" % os.getloadavg())


if __name__ == "__main__":
    main()
