#!/usr/bin/env python3
"""Benchmark: the web client's server API (maildesk.client) on a large mailbox.

Builds a mailbox of N messages (default 100,000) in a fresh Odoo database, then times
the calls the client makes, as a Mailbox User (member of the shared mailbox, so every
record rule applies), warm, median of R runs:

    get_mailboxes        folder tree with unread counts of every folder   goal <= 100 ms
    get_threads          first page of the inbox / unified inbox            goal <= 300 ms
    get_thread           a 20-message conversation                          goal <= 200 ms
    get_threads(search)  full text / sender / date over the whole mailbox   goal <= 500 ms

The rows are written with COPY, not synced through IMAP: ingestion has its own bench
(bench_imap_sync.py) and 100k messages through it would spend minutes measuring the
wrong thing. The data is shaped like a real mailbox: ~2.5 messages per conversation,
Zipf-distributed words (a few very common, most rare), 70% inbox, 10% sent, 8% unread,
2% starred, 10% with attachments, dates over two years. After loading it runs VACUUM
ANALYZE, as autovacuum would after a bulk sync. Prints figures; not a test.

    python3 tests/bench/bench_client.py -n 100000
"""
import argparse
import os
import random
import subprocess
import time
from datetime import datetime, timedelta

from _loaders import copy_rows, odoo_registry, timed, vacuum_analyze

GOALS = {"mailboxes": 100, "first_page": 300, "thread": 200, "search": 500}
FOLDERS = [("INBOX", "inbox", 0.70), ("Sent", "sent", 0.10), ("Archive", "archive", 0.12),
           ("Projects", "custom", 0.05), ("Trash", "trash", 0.02), ("Spam", "spam", 0.01)]


def vocabulary(rng, size=6000):
    syllables = ["ka", "lo", "mi", "ren", "sto", "va", "qua", "ter", "ly", "por", "zen", "da", "fi", "gor", "hu",
                 "pet", "ran", "sul", "tri", "vo", "bex", "cal", "dor", "el", "fus", "gan", "hil", "jor", "kem", "lus"]
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    words = sorted(words)
    rng.shuffle(words)
    return words


def zipf_picker(rng, words):
    weights = [1 / (rank + 1) for rank in range(len(words))]
    cumulative = list(_accumulate(weights))

    def pick(k):
        return rng.choices(words, cum_weights=cumulative, k=k)
    return pick


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total


def build_mailbox(env, n, seed):
    """Accounts, folders, threads and N messages; returns what the timings need."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    pick = zipf_picker(rng, words)
    member = env["res.users"].create({
        "name": "Bench Member", "login": "bench_member",
        "groups_id": [(6, 0, [env.ref("maildesk_mail_client.group_maildesk_user").id])]})
    account = env["maildesk.account"].create({
        "name": "Support", "email": "support@bench.test", "imap_host": "127.0.0.1", "is_shared": True,
        "user_ids": [(6, 0, [member.id])], "state": "connected"})
    # A second, private mailbox the member must not see (its rows must be filtered out).
    other = env["maildesk.account"].create({"name": "Private", "email": "boss@bench.test", "imap_host": "127.0.0.1"})
    folders = {}
    for acc in (account, other):
        for name, role, _share in FOLDERS:
            folders[acc.id, role] = env["maildesk.folder"].create({
                "account_id": acc.id, "name": name, "path": name, "role": role, "sync_state": "synced"})
    env.flush_all()
    cr = env.cr
    company = env.company.id
    now = datetime(2026, 11, 1)
    senders = [f"{w.capitalize()} {v.capitalize()} <{w}.{v}@{d}.test>"
               for w, v, d in zip(words[:800], words[800:1600], words[1600:2400])]
    # Conversations first (ids come from the sequence), messages reference them.
    n_threads = max(1, int(n / 2.5))
    cr.execute("SELECT nextval('maildesk_thread_id_seq') FROM generate_series(1, %s)", (n_threads,))
    thread_ids = [row[0] for row in cr.fetchall()]
    accounts_of = {}
    thread_rows = []
    for tid in thread_ids:
        acc = other if rng.random() < 0.05 and tid != thread_ids[0] else account
        accounts_of[tid] = acc.id
        thread_rows.append((tid, acc.id, company, " ".join(pick(rng.randint(2, 6))).capitalize()))
    copy_rows(cr, "maildesk_thread", ["id", "account_id", "company_id", "subject"], thread_rows)
    subjects = {row[0]: row[3] for row in thread_rows}

    roles = [role for _name, role, _share in FOLDERS]
    shares = [share for _name, _role, share in FOLDERS]
    big_thread = thread_ids[0]
    columns = ["account_id", "company_id", "folder_id", "thread_id", "message_id", "subject", "email_from",
               "from_address", "email_to", "date", "body_html", "body_text", "snippet", "has_remote_images",
               "has_attachments", "is_read", "is_starred", "direction", "body_state", "size"]
    rows = []
    for i in range(n):
        tid = big_thread if i < 20 else thread_ids[rng.randrange(1, n_threads)]
        acc_id = accounts_of[tid]
        role = rng.choices(roles, weights=shares)[0]
        sender = rng.choice(senders)
        body = " ".join(pick(rng.randint(40, 160)))
        date = now - timedelta(seconds=rng.randint(0, 2 * 365 * 86400))
        outgoing = role == "sent"
        rows.append((acc_id, company, folders[acc_id, role].id, tid, f"<bench{i}@bench.test>",
                     ("Re: " if rng.random() < 0.4 else "") + subjects[tid], sender,
                     sender.split("<")[1].rstrip(">"), "support@bench.test", date.strftime("%Y-%m-%d %H:%M:%S"),
                     f"<p>{body}</p>", body, body[:140], rng.random() < 0.1, rng.random() < 0.1,
                     rng.random() > 0.08, rng.random() < 0.02, "outgoing" if outgoing else "incoming", "full",
                     len(body) * 3))
        if len(rows) == 20000:
            copy_rows(cr, "maildesk_message", columns, rows)
            rows = []
    copy_rows(cr, "maildesk_message", columns, rows)
    env["maildesk.thread"].browse(thread_ids)._refresh_summary()
    cr.commit()
    vacuum_analyze(cr)
    common = words[0]  # Zipf rank 1: in most messages
    rare = words[-1]
    mid = words[200]  # Zipf rank 200: in a few percent of messages
    return {"member": member, "account": account, "inbox": folders[account.id, "inbox"],
            "big_thread": big_thread, "common_word": common, "mid_word": mid, "rare_word": rare, "sender": senders[5]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=100000, help="messages in the mailbox")
    parser.add_argument("-r", "--runs", type=int, default=15, help="timed runs per call")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database (to EXPLAIN queries) and print its name")
    args = parser.parse_args()

    import odoo
    from odoo import SUPERUSER_ID, api

    db = f"maildesk_bench_client_{os.getpid()}"
    registry = odoo_registry(db, "maildesk_mail_client")
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            started = time.perf_counter()
            data = build_mailbox(env, args.n, args.seed)
            total = env["maildesk.message"].search_count([])
            visible = env["maildesk.message"].with_user(data["member"]).search_count([])
            print(f"mailbox  : {total:,} messages ({visible:,} visible to the member), "
                  f"{env['maildesk.thread'].search_count([]):,} conversations, built in "
                  f"{time.perf_counter() - started:.1f} s")
            client = env["maildesk.client"].with_user(data["member"])
            inbox = data["inbox"].id
            cases = [
                ("mailboxes", "get_mailboxes (all folders, unread counts)", client.get_mailboxes),
                ("first_page", "get_threads inbox, first page of 80",
                 lambda: client.get_threads(folder_id=inbox, limit=80)),
                ("first_page", "get_threads inbox, page at offset 8,000",
                 lambda: client.get_threads(folder_id=inbox, offset=8000, limit=80)),
                ("first_page", "get_threads unified inbox, first page",
                 lambda: client.get_threads(role="inbox", limit=80)),
                ("first_page", "get_threads inbox, unread filter",
                 lambda: client.get_threads(folder_id=inbox, filter="unread", limit=80)),
                ("thread", "get_thread of 20 messages", lambda: client.get_thread(data["big_thread"])),
                ("search", f"search text, common word '{data['common_word']}'",
                 lambda: client.get_threads(search={"text": data["common_word"]}, limit=80)),
                ("search", f"search text, mid word '{data['mid_word']}'",
                 lambda: client.get_threads(search={"text": data["mid_word"]}, limit=80)),
                ("search", f"search text, rare word '{data['rare_word']}'",
                 lambda: client.get_threads(search={"text": data["rare_word"]}, limit=80)),
                ("search", "search text, two words (prefix)",
                 lambda: client.get_threads(search={"text": f"{data['common_word']} {data['rare_word'][:4]}"},
                                            limit=80)),
                ("search", "search sender (substring)",
                 lambda: client.get_threads(search={"from": data["sender"].split("<")[1][:8]}, limit=80)),
                ("search", "search date range (one month)",
                 lambda: client.get_threads(search={"date_from": "2026-03-01", "date_to": "2026-03-31"}, limit=80)),
            ]
            print(f"timings  : median / max of {args.runs} warm runs, as a Mailbox User (record rules on)")
            worst = {}
            for key, label, call in cases:
                median, peak = timed(env, call, args.runs)
                worst[key] = max(worst.get(key, 0), median)
                flag = "ok" if median <= GOALS[key] else "OVER"
                print(f"  {label:<52} {median:7.1f} / {peak:7.1f} ms   goal {GOALS[key]} ms  {flag}")
            if args.keep:
                cr.commit()
            else:
                cr.rollback()
            met = all(worst[k] <= GOALS[k] for k in worst)
            print("result   : " + ("every goal met" if met else "some goals NOT met") + " (medians)")
    finally:
        odoo.sql_db.close_all()
        if args.keep:
            print(f"kept database {db}")
        else:
            subprocess.run(["dropdb", "--if-exists", db], check=False)


if __name__ == "__main__":
    main()
