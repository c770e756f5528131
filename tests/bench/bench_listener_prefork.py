#!/usr/bin/env python3
"""Check: the IMAP listener with Odoo in prefork mode (``--workers=N``), end to end.

Starts a private Dovecot, a scratch database with ``maildesk_mail_client``, one IMAP mailbox
synced once, then two real processes as an administrator would run them:

- ``odoo-bin --workers=2 --max-cron-threads=1`` (prefork: HTTP workers plus a cron worker);
- ``odoo-bin maildesk-listener`` (the IDLE listener, its own process).

The periodic sync cron is switched off, so only the listener's wake-up (mark + trigger of
"MailDesk: sync on push", run by the cron worker) can bring new mail in. Each of ``-n``
messages is APPENDed to the INBOX and the time until it is stored in Odoo is printed, with
p50 / p95. Prints figures; it is not a test. Needs Odoo 17 importable and PostgreSQL.

    python3 tests/bench/bench_listener_prefork.py -n 10
"""
import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from harness.dovecot import DovecotServer  # noqa: E402

TIMEOUT = 120  # seconds one message may take before the run is declared failed
START_TIMEOUT = 300  # seconds for both processes to load and the listener to report the mailbox live


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def psql(db, sql):
    out = subprocess.run(["psql", "-X", "-Atq", "-d", db, "-c", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def mail(index):
    return (f"From: Bench <bench@example.org>\r\nTo: owner@example.com\r\nSubject: live {index}\r\n"
            f"Message-ID: <live-{index}-{os.getpid()}@example.org>\r\n"
            f"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain\r\n\r\nHello {index}\r\n").encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10, help="messages appended one after the other")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    import odoo
    root = Path(odoo.__file__).parent
    addons = ",".join(str(p) for p in (root / "addons", root.parent / "addons", REPO) if p.is_dir())
    odoo_cmd = [sys.executable, "-m", "odoo", f"--addons-path={addons}"]
    db = f"maildesk_listener_{os.getpid()}"
    logs = Path(f"/tmp/{db}")
    logs.mkdir(exist_ok=True)
    server = DovecotServer()
    server.start()
    processes = []
    try:
        login, password = server.new_user()
        server.append(login, password, "INBOX", [mail(0)])
        subprocess.run(odoo_cmd + ["-d", db, "-i", "maildesk_mail_client", "--stop-after-init", "--without-demo=all",
                                   "--log-level=warn", "--no-http"], check=True)
        setup = f"""
import odoo
from odoo import SUPERUSER_ID, api
odoo.tools.config.parse_config(["--addons-path={addons}"])
with odoo.registry("{db}").cursor() as cr:
    env = api.Environment(cr, SUPERUSER_ID, {{}})
    account = env["maildesk.account"].create({{
        "name": "live", "email": "{login}", "imap_host": "{server.host}", "imap_port": {server.port},
        "imap_security": "none", "imap_login": "{login}", "imap_password": "{password}"}})
    account._sync()
    env.ref("maildesk_mail_client.ir_cron_maildesk_sync").active = False
    print(account.id, account.state, env["maildesk.message"].search_count([]))
"""
        out = subprocess.run([sys.executable, "-c", setup], check=True, capture_output=True, text=True).stdout
        account_id, state, count = out.split()
        print(f"setup    : mailbox {account_id} {state}, {count} message after the first sync; periodic sync cron off")

        port = free_port()
        processes.append(subprocess.Popen(
            odoo_cmd + ["-d", db, "--db-filter", f"^{db}$", f"--workers={args.workers}", "--max-cron-threads=1",
                        f"--http-port={port}", f"--gevent-port={free_port()}", "--log-level=info"],
            stdout=open(logs / "odoo.log", "w"), stderr=subprocess.STDOUT))
        processes.append(subprocess.Popen(
            odoo_cmd + ["maildesk-listener", "-d", db, "--interval", "2", "--log-level=info"],
            stdout=open(logs / "listener.log", "w"), stderr=subprocess.STDOUT))
        deadline = time.monotonic() + START_TIMEOUT
        while psql(db, f"SELECT idle_state FROM maildesk_account_realtime WHERE account_id = {account_id}") != "idle":
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise SystemExit(f"the listener never reported the mailbox live; logs in {logs}")
            time.sleep(0.2)
        print(f"live     : odoo --workers={args.workers} (pid {processes[0].pid}) and maildesk-listener "
              f"(pid {processes[1].pid}) up, mailbox reported live")

        latencies = []
        for index in range(1, args.n + 1):
            message_id = f"<live-{index}-{os.getpid()}@example.org>"
            started = time.monotonic()
            server.append(login, password, "INBOX", [mail(index)])
            while psql(db, f"SELECT count(*) FROM maildesk_message WHERE message_id = '{message_id}'") != "1":
                if time.monotonic() - started > TIMEOUT:
                    raise SystemExit(f"message {index} not stored after {TIMEOUT} s; logs in {logs}")
                time.sleep(0.05)
            latencies.append(time.monotonic() - started)
        latencies.sort()
        p95 = latencies[min(len(latencies) - 1, int(round(0.95 * len(latencies))) - 1)]
        periodic = psql(db, "SELECT lastcall FROM ir_cron WHERE id = (SELECT res_id FROM ir_model_data WHERE "
                            "module = 'maildesk_mail_client' AND name = 'ir_cron_maildesk_sync')")
        print(f"latency  : {len(latencies)} APPENDs stored in Odoo: p50 {latencies[len(latencies) // 2]:.2f} s, "
              f"p95 {p95:.2f} s, max {latencies[-1]:.2f} s (periodic sync cron last run: {periodic or 'never'})")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        server.stop()
        subprocess.run(["dropdb", "--if-exists", "--force", db], check=False)  # the servers' last sessions
        print(f"logs     : {logs}")


if __name__ == "__main__":
    main()
