#!/usr/bin/env python3
"""Benchmark: how long until new mail is readable in the client, with live updates on.

Runs the whole chain with real processes: a private Dovecot, a real Odoo 17 server
(threaded, Odoo's default two cron threads) on a fresh database, the ``maildesk-listener`` command, and the
Gmail and Graph emulators pushing into that server. For each message the clock starts
just before the APPEND (Dovecot) / the emulator's delivery and stops when the message is
returned by the client API (``maildesk.client.get_threads`` over JSON-RPC, polled every
``--poll`` seconds as the logged-in administrator).

1. IMAP IDLE: ``--mailboxes`` (50) IMAP mailboxes watched by one listener, ``-n`` (100)
   messages appended round-robin, one after the other.
2. Gmail push: one Gmail mailbox (emulator), ``-n`` messages; Pub/Sub push with a signed
   OIDC token -> /maildesk/push/gmail.
3. Graph: one Microsoft 365 mailbox (emulator), ``-n`` messages; change notification with
   clientState -> /maildesk/push/graph.

Prints p50/p95/max per source. Needs Odoo 17 importable and PostgreSQL; creates and drops
its own database; every process it starts is stopped at the end.

    python3 tests/bench/bench_push.py -n 100 --mailboxes 50
"""
import argparse
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "bench"))

from bench_imap_sync import odoo_db  # noqa: E402

from emulators.gmail import SERVICE_ACCOUNT, GmailEmulator  # noqa: E402
from emulators.graph import GraphEmulator  # noqa: E402
from emulators.tokens import TokenRegistry  # noqa: E402
from harness import free_port  # noqa: E402
from harness.dovecot import DovecotServer  # noqa: E402

PARAM = "maildesk_mail_client.%s"


def raw(subject):
    return (f"From: Bench <bench@example.com>\r\nTo: box@maildesk.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}@bench.example.com>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
            "Content-Type: text/plain\r\n\r\nhello\r\n").encode()


class Client:
    """JSON-RPC to the running server, as the web client calls it."""

    def __init__(self, url, db):
        self.url, self.session = url, requests.Session()
        answer = self.session.post(f"{url}/web/session/authenticate", json={
            "jsonrpc": "2.0", "params": {"db": db, "login": "admin", "password": "admin"}}, timeout=30).json()
        if answer.get("error"):
            raise RuntimeError(answer["error"])

    def call(self, model, method, **kwargs):
        answer = self.session.post(f"{self.url}/web/dataset/call_kw/{model}/{method}", json={
            "jsonrpc": "2.0", "params": {"model": model, "method": method, "args": [], "kwargs": kwargs}},
            timeout=30).json()
        if answer.get("error"):
            raise RuntimeError(answer["error"]["data"]["message"])
        return answer["result"]

    def readable(self, account_id, subject):
        result = self.call("maildesk.client", "get_threads", account_id=account_id, search={"subject": subject},
                           limit=5)
        return any(t["subject"] == subject for t in result["threads"])


def measure(name, client, items, deliver, poll, timeout):
    """``items``: [(account_id, subject)]; ``deliver(i, subject)`` makes the mail appear at the provider."""
    latencies, lost = [], 0
    for i, (account_id, subject) in enumerate(items):
        started = time.perf_counter()
        deliver(i, subject)
        while not client.readable(account_id, subject):
            if time.perf_counter() - started > timeout:
                lost += 1
                break
            time.sleep(poll)
        else:
            latencies.append(time.perf_counter() - started)
    if latencies:
        ordered = sorted(latencies)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
        print(f"{name:<9}: {len(latencies)} messages, p50 {statistics.median(ordered):.2f} s, p95 {p95:.2f} s, "
              f"max {ordered[-1]:.2f} s" + (f", {lost} not seen within {timeout:.0f} s" if lost else ""))
    else:
        print(f"{name:<9}: nothing arrived within {timeout:.0f} s")
    return latencies


def wait_http(url, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the Odoo server exited at start")
        try:
            if requests.get(url + "/web/login", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError("the Odoo server did not answer")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=100, help="messages per source")
    parser.add_argument("--mailboxes", type=int, default=50, help="IMAP mailboxes watched by the listener")
    parser.add_argument("--poll", type=float, default=0.1, help="client API poll interval (s)")
    parser.add_argument("--timeout", type=float, default=90, help="give up on one message after (s)")
    parser.add_argument("--only", choices=["imap", "gmail", "graph"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["imap", "gmail", "graph"])
    os.environ.setdefault("MAILDESK_ENCRYPTION_KEY", __import__("cryptography.fernet", fromlist=["Fernet"])
                          .Fernet.generate_key().decode())

    import odoo
    from odoo import SUPERUSER_ID, api

    dovecot = DovecotServer()
    dovecot.start()
    tokens = TokenRegistry(lifetime=24 * 3600)
    gmail = GmailEmulator(tokens).start()
    graph = GraphEmulator(tokens).start()
    processes = []
    db = f"maildesk_push_{os.getpid()}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        registry = odoo_db(db, "maildesk_mail_client")
        addons_path = odoo.tools.config["addons_path"]
        imap_boxes, gmail_id, graph_id = [], None, None
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env.ref("base.user_admin").write({
                "groups_id": [(4, env.ref("maildesk_mail_client.group_maildesk_admin").id)]})
            set_param = env["ir.config_parameter"].set_param
            for key, value in {
                "push_base_url": url, "gmail_pubsub_topic": "projects/bench/topics/gmail",
                "gmail_push_service_account": SERVICE_ACCOUNT, "gmail_push_certs_url": gmail.certs_url,
                "gmail_api_root": gmail.base_url, "graph_api_root": graph.base_url + "/v1.0", "graph_push": "1",
                "google_client_id": "bench", "google_client_secret": "bench",
                "microsoft_client_id": "bench", "microsoft_client_secret": "bench",
            }.items():
                set_param(PARAM % key, value)
            Account = env["maildesk.account"]
            if "imap" in only:
                for _ in range(args.mailboxes):
                    login, password = dovecot.new_user("push")
                    account = Account.create({
                        "name": login, "email": login, "imap_host": dovecot.host, "imap_port": dovecot.port,
                        "imap_security": "none", "imap_login": login, "imap_password": password})
                    imap_boxes.append((account.id, login, password))
                Account.browse([b[0] for b in imap_boxes])._sync(commit=True)
            from odoo.addons.maildesk_mail_client.engine.oauth import TokenSet

            for provider, email in (("gmail", "bench@gmail.test"), ("outlook", "bench@contoso.test")):
                if {"gmail": "gmail", "outlook": "graph"}[provider] not in only:
                    continue
                account = Account.create({"name": provider, "provider": provider, "email": email})
                account._oauth_store(TokenSet(tokens.issue(email), tokens.issue_refresh(email),
                                              time.time() + 20 * 3600, email))
                account._sync(commit=True)
                if provider == "gmail":
                    gmail_id = account.id
                else:
                    graph_id = account.id
            cr.commit()

        env_vars = dict(os.environ)
        common = [f"--addons-path={addons_path}", "-d", db, "--log-level=warn"]
        server = subprocess.Popen([sys.executable, "-m", "odoo", *common, f"--http-port={port}",
                                   "--http-interface=127.0.0.1", "--max-cron-threads=2", "--workers=0",
                                   f"--db-filter=^{db}$"], env=env_vars)
        processes.append(server)
        wait_http(url, server)
        client = Client(url, db)

        if imap_boxes:
            listener = subprocess.Popen([sys.executable, "-m", "odoo", f"--addons-path={addons_path}",
                                         "maildesk-listener", "-d", db, "--log-level=warn", "--interval=2"],
                                        env=env_vars)
            processes.append(listener)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                boxes = client.call("maildesk.client", "get_mailboxes")["accounts"]
                live = sum(1 for b in boxes if b["provider"] == "imap" and b["realtime_mode"] == "idle")
                if live == len(imap_boxes):
                    break
                time.sleep(1)
            print(f"listener : {live} of {len(imap_boxes)} IMAP mailboxes live (IDLE)")
            items = [(imap_boxes[i % len(imap_boxes)][0], f"imap-{i}-{secrets.token_hex(3)}") for i in range(args.n)]

            def deliver_imap(i, subject):
                _id, login, password = imap_boxes[i % len(imap_boxes)]
                dovecot.append(login, password, "INBOX", [raw(subject)])

            measure("IMAP IDLE", client, items, deliver_imap, args.poll, args.timeout)

        if gmail_id or graph_id:
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["maildesk.account"]._cron_push_renew()  # watch + subscription (Graph validates our URL)
            gmail.configure_push(url + "/maildesk/push/gmail", sync=False)
        if gmail_id:
            items = [(gmail_id, f"gmail-{i}-{secrets.token_hex(3)}") for i in range(args.n)]
            measure("Gmail", client, items, lambda i, s: gmail.add_message("bench@gmail.test", raw(s)),
                    args.poll, args.timeout)
        if graph_id:
            items = [(graph_id, f"graph-{i}-{secrets.token_hex(3)}") for i in range(args.n)]
            measure("Graph", client, items, lambda i, s: graph.add_message("bench@contoso.test", raw(s)),
                    args.poll, args.timeout)
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        gmail.stop()
        graph.stop()
        dovecot.stop()
        odoo.sql_db.close_all()
        subprocess.run(["dropdb", "--if-exists", db], check=False)


if __name__ == "__main__":
    main()
