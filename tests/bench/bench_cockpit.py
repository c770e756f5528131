#!/usr/bin/env python3
"""Benchmark: the cockpit's server side on a large, generated workload.

Builds, in a fresh Odoo database, N messages (default 1,000,000) in T conversations (default
200,000) over 20 mailboxes, 40 users in 4 teams (business hours 9-17 Europe/Berlin with two
holidays), 3,000 customers and two SLA policies with three escalation levels; then times,
warm, median of R runs, as a Cockpit Manager who is a member of all 20 mailboxes (every
record rule and scope check on):

    get_dashboard     the first screen: all cards, trends, daily series, both breakdowns  goal <= 300 ms
    get_drilldown     one page of 50 rows behind a card                                    goal <= 150 ms
    SLA cron          every open conversation (about a quarter of them): the first run, a
                      routine run, a full re-run and one after a policy change            goal <= 10 s

Realistic days and hours: mail arrives mostly on weekdays between 08:00 and 18:00 local
time; replies follow after exponential waits; ~5 % auto-generated and ~2 % internal mail;
a quarter of the conversations end waiting for us, 15 % waiting for the customer, the rest
closed. The cockpit facts (kinds, gaps, business-hours response times) are computed with the
addon's own engine while generating, as ingest would, and rows are written with COPY. The
base addon's full-text and trigram indexes are dropped before the load (the cockpit never
uses them; maintaining them would triple the build time); VACUUM ANALYZE follows, as
autovacuum would after a bulk sync, and again after the first SLA cron run (which writes a
due time on every open wait: without it every index-only scan reads the heap, which
autovacuum would have fixed minutes later), and after the KPI rollup is built (its cron's
first run). Every figure line ends with the machine's
1-minute load average (the machine may be shared). Prints figures; not a test.

    python3 tests/bench/bench_cockpit.py                      # 1,000,000 / 200,000
    python3 tests/bench/bench_cockpit.py -n 200000 -t 40000   # smaller
    python3 tests/bench/bench_cockpit.py --keep               # keep the database ...
    python3 tests/bench/bench_cockpit.py --reuse <db>         # ... and time it again (no build;
                                                              # upgrades the addon first)
"""
import argparse
import math
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
import conftest  # noqa: E402,F401,I001  (registers the addons as bare packages for their engines)

from maildesk_mail_client_cockpit.engine import bizhours, facts  # noqa: E402
from _loaders import Copier, timed, vacuum_analyze  # noqa: E402

GOALS = {"dashboard": 300, "drill": 150, "cron": 10000}
TZ = "Europe/Berlin"
# The real clock: freezing it (freezegun) would slow every datetime operation being measured.
NOW = datetime.utcnow().replace(microsecond=0)
ACCOUNTS, USERS, TEAMS, CUSTOMERS = 20, 40, 4, 3000
HOLIDAYS = tuple((datetime.combine(NOW.date() - timedelta(days=d), datetime.min.time()) - timedelta(hours=1),
                  datetime.combine(NOW.date() - timedelta(days=d - 1), datetime.min.time()) - timedelta(hours=1))
                 for d in (12, 47))  # two local (Berlin) days off


def load():
    """The 1-minute load average, to print beside each figure."""
    return f"load {os.getloadavg()[0]:.1f}"


def odoo_registry(db, reuse=False):
    import odoo
    addons_path = [str(Path(odoo.__file__).parent / "addons"), str(Path(odoo.__file__).parent.parent / "addons"),
                   str(REPO)]
    addons_path = ",".join(p for p in addons_path if os.path.isdir(p))
    if not reuse:
        subprocess.run(["dropdb", "--if-exists", db], check=False)
    subprocess.run([sys.executable, "-m", "odoo", "-d", db, "-u" if reuse else "-i", "maildesk_mail_client_cockpit",
                    "--stop-after-init", "--without-demo=all", f"--addons-path={addons_path}", "--log-level=warn",
                    "--no-http"], check=True)
    odoo.tools.config.parse_config([f"--addons-path={addons_path}", "-d", db, "--log-level=warn"])
    return odoo.registry(db)


def working_moment(rng, days):
    """A moment with a realistic weekday / hour profile (Berlin local time), as naive UTC."""
    while True:
        day = NOW.date() - timedelta(days=rng.randrange(days))
        if day.weekday() >= 5 and rng.random() > 0.25:
            continue
        hour = min(23.9, max(0.0, rng.gauss(12.5, 3.2)))
        start, _end = bizhours.local_day_bounds(TZ, day)
        moment = start + timedelta(hours=hour)
        if moment < NOW:
            return moment


def build(env, n_messages, n_threads, seed, days):
    rng = random.Random(seed)
    cr = env.cr
    group = lambda xmlid: env.ref(xmlid).id  # noqa: E731
    users = env["res.users"].create([{
        "name": f"Agent {i:02d}", "login": f"bench_agent_{i}", "tz": TZ,
        "groups_id": [(6, 0, [group("maildesk_mail_client_cockpit.group_cockpit_operator")])]}
        for i in range(USERS)])
    manager = env["res.users"].create({
        "name": "Bench Manager", "login": "bench_manager", "tz": TZ,
        "groups_id": [(6, 0, [group("maildesk_mail_client_cockpit.group_cockpit_manager")])]})
    calendar = env["resource.calendar"].create({
        "name": "Bench hours", "tz": TZ,
        "attendance_ids": [(5, 0, 0)] + [(0, 0, {"name": f"d{d}", "dayofweek": str(d), "hour_from": 9,
                                                 "hour_to": 17, "day_period": "morning"}) for d in range(5)]})
    env["resource.calendar.leaves"].create([{"name": "Holiday", "calendar_id": calendar.id, "date_from": a,
                                             "date_to": b} for a, b in HOLIDAYS])
    accounts = env["maildesk.account"].create([{
        "name": f"Mailbox {i:02d}", "email": f"box{i:02d}@bench.test", "imap_host": "127.0.0.1", "is_shared": True,
        "state": "connected", "user_ids": [(6, 0, (users[(i % TEAMS) * 10:(i % TEAMS) * 10 + 10] | manager).ids)]}
        for i in range(ACCOUNTS)])
    teams = env["maildesk.team"].create([{
        "name": f"Team {t}", "leader_id": manager.id if t == 0 else users[t * 10].id,
        "member_ids": [(6, 0, users[t * 10:t * 10 + 10].ids)], "resource_calendar_id": calendar.id,
        "account_ids": [(6, 0, [a.id for i, a in enumerate(accounts) if i % TEAMS == t])]} for t in range(TEAMS)])
    manager.write({"name": "Bench Manager"})
    teams[0].member_ids = [(4, manager.id)]
    folders = {}
    for account in accounts:
        for name, role in (("INBOX", "inbox"), ("Sent", "sent")):
            folders[account.id, role] = env["maildesk.folder"].create(
                {"account_id": account.id, "name": name, "path": name, "role": role}).id
    partners = env["res.partner"].create([{"name": f"Customer {i}", "email": f"c{i}@customer{i % 300}.test"}
                                          for i in range(CUSTOMERS)])
    policy_vip = env["maildesk.sla.policy"].create({
        "name": "VIP", "sequence": 1, "partner_ids": [(6, 0, partners[:100].ids)], "first_response_hours": 2,
        "next_response_hours": 4, "resource_calendar_id": calendar.id})
    env["maildesk.sla.policy"].create({
        "name": "Standard", "sequence": 5, "first_response_hours": 8, "next_response_hours": 8,
        "resolution_hours": 40, "resource_calendar_id": calendar.id,
        "level_ids": [(0, 0, {"sequence": 1, "trigger": "percent", "percent": 80, "notify": "assignee"}),
                      (0, 0, {"sequence": 2, "trigger": "after_due", "minutes": 0, "notify": "leader"}),
                      (0, 0, {"sequence": 3, "trigger": "after_due", "minutes": 120, "notify": "users",
                              "user_ids": [(6, 0, manager.ids)]})]})
    assert policy_vip
    env.flush_all()
    # The cockpit never searches text: the base addon's GIN indexes only slow the load.
    cr.execute("""SELECT indexname FROM pg_indexes WHERE tablename = 'maildesk_message'
                   AND (indexname LIKE '%%trgm%%' OR indexname LIKE '%%search_vector%%')""")
    for (index,) in cr.fetchall():
        cr.execute(f'DROP INDEX "{index}"')
    # A bulk load: the KPI rollup is built from scratch afterwards (its cron's first run), so the
    # triggers marking changed days would only mark every day twice.
    cr.execute("ALTER TABLE maildesk_message DISABLE TRIGGER USER")
    cal = env["maildesk.sla.policy"]._calendar_data(calendar)[calendar.id]
    own = {a.email for a in accounts}
    team_of = {a.id: teams[i % TEAMS] for i, a in enumerate(accounts)}
    members = {t.id: t.member_ids.ids for t in teams}
    # Some mailboxes are busier than others (so one is "overloaded today").
    weights = [1.0 / (1 + i * 0.15) for i in range(ACCOUNTS)]
    company = env.company.id
    cr.execute("SELECT nextval('maildesk_thread_id_seq') FROM generate_series(1, %s)", (n_threads,))
    thread_ids = [r[0] for r in cr.fetchall()]
    cr.execute("SELECT nextval('maildesk_message_id_seq') FROM generate_series(1, %s)", (n_messages + n_threads,))
    message_ids = iter([r[0] for r in cr.fetchall()])
    t_cols = ["id", "account_id", "company_id", "subject", "team_id", "user_id", "conversation_state", "is_noise",
              "is_closed", "closed_at", "last_incoming_at", "last_outgoing_at", "last_message_at", "message_count",
              "unread_count", "ck_wait_since", "ck_wait_first", "ck_wait_message_id", "ck_segment_consumed",
              "ck_partner_id", "ck_marked_noise", "sla_status"]
    m_cols = ["id", "account_id", "company_id", "folder_id", "thread_id", "message_id", "subject", "email_from",
              "from_address", "email_to", "date", "direction", "body_state", "is_read", "is_auto_generated",
              "ck_kind", "ck_wait_start", "ck_first", "ck_answered_at", "ck_reply_seconds", "partner_id", "snippet"]
    threads_out = Copier(cr, "maildesk_thread", t_cols)
    messages_out = Copier(cr, "maildesk_message", m_cols, before=threads_out)
    per_thread = n_messages / n_threads
    stored = 0
    for index, tid in enumerate(thread_ids):
        left_threads = n_threads - index
        budget = n_messages - stored
        mean = budget / left_threads if left_threads else per_thread
        fate = rng.random()
        state = "waiting_for_us" if fate < 0.25 else "waiting_for_them" if fate < 0.40 else "closed"
        k = max(1, min(40, int(round(rng.expovariate(1 / mean))) if mean > 1 else 1))
        if index == n_threads - 1:
            k = max(1, budget)
        if state == "waiting_for_us" and k % 2 == 0:
            k = k + 1 if k < budget else k - 1
        if state == "waiting_for_them" and k % 2 == 1 and k > 1:
            k -= 1
        k = max(1, k)
        account = rng.choices(accounts, weights=weights)[0]
        team = team_of[account.id]
        partner = partners[min(CUSTOMERS - 1, int(rng.paretovariate(1.2)) - 1)] if rng.random() < 0.8 else \
            partners[rng.randrange(CUSTOMERS)]
        when = working_moment(rng, days if state == "closed" else min(days, 30 if state == "waiting_for_us" else 60))
        # Spread the k messages until now: waits of hours, sometimes days.
        dates = [when]
        for _i in range(k - 1):
            dates.append(dates[-1] + timedelta(seconds=rng.expovariate(1 / (6 * 3600))))
        if dates[-1] >= NOW:
            scale = (NOW - timedelta(minutes=1) - when) / (dates[-1] - when)
            dates = [when + (d - when) * scale for d in dates]
        msgs = []
        for i, date in enumerate(dates):
            incoming = i % 2 == 0
            auto = incoming and rng.random() < 0.05
            internal = incoming and not auto and rng.random() < 0.02
            if internal:
                sender = rng.choice(list(own - {account.email}))
            elif auto:
                sender = "noreply@notify.test"
            else:
                sender = partner.email
            msg = facts.Msg(id=next(message_ids), date=date.replace(microsecond=0),
                            direction="incoming" if incoming else "outgoing",
                            from_address=sender if incoming else account.email,
                            to=account.email if incoming else partner.email,
                            auto_submitted="auto-generated" if auto else "",
                            message_id=f"<b{tid}.{i}@bench.test>", partner_id=partner.id)
            msgs.append(msg)
        result = facts.thread_facts(msgs, own, cal)
        human = [m for m in msgs if m.kind in ("in", "out", "internal")]
        last_in = max((m.date for m in human if m.direction == "incoming"), default=None)
        last_out = max((m.date for m in human if m.direction == "outgoing"), default=None)
        closed = state == "closed"
        if closed:
            conv = "closed"
        elif last_in and (not last_out or last_in > last_out):
            conv = "waiting_for_us"
        elif last_out:
            conv = "waiting_for_them"
        else:
            conv = None
        member_ids = members[team.id]
        user_id = rng.choice(member_ids) if rng.random() < 0.7 else None
        subject = f"Case {tid} from {partner.name}"
        threads_out.add((tid, account.id, company, subject, team.id, user_id, conv, not human, closed,
                         dates[-1] + timedelta(hours=1) if closed else None, last_in, last_out, dates[-1], len(msgs),
                         0, None if closed else result.wait_since, result.wait_first,
                         None if closed else result.wait_message_id, result.segment_consumed, result.customer_id,
                         False, "none"))
        for m in msgs:
            messages_out.add((m.id, account.id, company, folders[account.id, "inbox" if m.direction == "incoming"
                                                                  else "sent"], tid, m.message_id, subject,
                              m.from_address, m.from_address, m.to, m.date, m.direction, "full", True,
                              bool(m.auto_submitted), m.kind, m.wait_start, m.first, m.answered_at, m.reply_seconds,
                              partner.id, subject[:60]))
        stored += len(msgs)
    threads_out.flush()
    messages_out.flush()
    cr.execute("ALTER TABLE maildesk_message ENABLE TRIGGER USER")
    cr.commit()
    vacuum_analyze(cr)
    return {"manager": manager, "accounts": accounts, "stored": stored}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1_000_000, help="messages")
    parser.add_argument("-t", type=int, default=200_000, help="conversations")
    parser.add_argument("--days", type=int, default=180, help="days of history")
    parser.add_argument("-r", "--runs", type=int, default=7, help="timed runs per call")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database and print its name")
    parser.add_argument("--reuse", metavar="DB", help="time a database kept by --keep again (no build)")
    args = parser.parse_args()

    import odoo
    from odoo import SUPERUSER_ID, api

    db = args.reuse or f"maildesk_bench_cockpit_{os.getpid()}"
    args.keep = args.keep or bool(args.reuse)
    registry = odoo_registry(db, reuse=bool(args.reuse))
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            started = time.perf_counter()
            if args.reuse:
                data = {"manager": env["res.users"].search([("login", "=", "bench_manager")]),
                        "accounts": env["maildesk.account"].search([("email", "like", "%@bench.test")], order="id")}
            else:
                data = build(env, args.n, args.t, args.seed, args.days)
            cr.execute("SELECT count(*) FROM maildesk_message")
            n_msg = cr.fetchone()[0]
            cr.execute("SELECT count(*), count(*) FILTER (WHERE conversation_state = 'waiting_for_us') "
                       "FROM maildesk_thread")
            n_thr, n_open = cr.fetchone()
            print(f"workload : {n_msg:,} messages, {n_thr:,} conversations ({n_open:,} waiting for us), "
                  f"{ACCOUNTS} mailboxes, {USERS} users, "
                  + (f"reused {db}" if args.reuse else f"built in {time.perf_counter() - started:.0f} s")
                  + f"  ({load()})")
            Thread = env["maildesk.thread"]
            runs = []
            first = "full (reused database)" if args.reuse else "first (full: new policies)"
            for label, offset, full in ((first, 0, True if args.reuse else None), ("routine, 5 min later", 5, False),
                                        ("full again, 10 min later", 10, True),
                                        ("after a policy change", 15, None)):
                if offset == 15:  # the Standard policy's targets change (8 h <-> 6 h): every due time moves
                    standard = env["maildesk.sla.policy"].search([("name", "=", "Standard")])
                    hours = 6 if standard.first_response_hours == 8 else 8
                    standard.write({"first_response_hours": hours, "next_response_hours": hours})
                    cr.commit()
                t0 = time.perf_counter()
                result = Thread._cron_cockpit_sla(now=NOW + timedelta(minutes=offset), time_budget=3600, full=full)
                elapsed = time.perf_counter() - t0
                cr.commit()
                runs.append(elapsed)
                print(f"SLA cron : {label:<28} {elapsed:6.2f} s  ({result['threads']:,} evaluated, "
                      f"{result['statuses']:,} statuses moved, {result['escalations']:,} escalations)   "
                      f"goal {GOALS['cron'] / 1000:.0f} s  {'ok' if elapsed * 1000 <= GOALS['cron'] else 'OVER'}  "
                      f"({load()})")
                if offset == 0:
                    # The first run wrote a due time on every open wait: vacuum, as autovacuum would.
                    vacuum_analyze(cr)
            cold, warm = max(runs[1:]), runs[0]
            # The KPI rollup: built for the users' time zones by its cron (here at once), then kept
            # by folding the days the triggers marked dirty.
            Rollup = env["maildesk.cockpit.rollup"]
            for label in ("build / fold", "fold, nothing changed"):
                t0 = time.perf_counter()
                folded = Rollup._cron_fold()
                cr.commit()
                print(f"rollup   : {label:<28} {time.perf_counter() - t0:6.2f} s  ({folded['dirty']:,} dirty, "
                      f"{folded['keys']:,} mailbox-days recomputed, built {', '.join(folded['built']) or '-'})  "
                      f"({load()})")
            vacuum_analyze(cr)
            cockpit = env["maildesk.cockpit"].with_user(data["manager"])
            box = data["accounts"][0].id
            cases = [
                ("dashboard", "get_dashboard today", lambda: cockpit.get_dashboard({"period": "today"})),
                ("dashboard", "get_dashboard 7 days", lambda: cockpit.get_dashboard({"period": "7d"})),
                ("dashboard", "get_dashboard 30 days", lambda: cockpit.get_dashboard({"period": "30d"})),
                ("dashboard", "get_dashboard 30 days, one mailbox",
                 lambda: cockpit.get_dashboard({"period": "30d", "account_id": box})),
                ("drill", "get_drilldown needs_reply, first page",
                 lambda: cockpit.get_drilldown("needs_reply", {"period": "7d"})),
                ("drill", "get_drilldown overdue, page at offset 1,000",
                 lambda: cockpit.get_drilldown("overdue", {"period": "7d"}, offset=1000)),
                ("drill", "get_drilldown incoming 30 days, first page",
                 lambda: cockpit.get_drilldown("incoming", {"period": "30d"})),
                ("drill", "get_drilldown response_time 30 days",
                 lambda: cockpit.get_drilldown("response_time", {"period": "30d"})),
            ]
            print(f"timings  : median / max of {args.runs} warm runs, as a Cockpit Manager of all "
                  f"{ACCOUNTS} mailboxes (rules and scope on)")
            worst = {}
            for key, label, call in cases:
                median, peak = timed(env, call, args.runs)
                worst[key] = max(worst.get(key, 0), median)
                print(f"  {label:<46} {median:7.1f} / {peak:7.1f} ms   goal {GOALS[key]} ms  "
                      f"{'ok' if median <= GOALS[key] else 'OVER'}  ({load()})")
            data7 = cockpit.get_dashboard({"period": "7d"})
            print("  7-day cards: " + ", ".join(
                f"{k} {v['value'] if v.get('unit') != 'seconds' else round((v['value'] or 0) / 3600, 2)}"
                f"{'' if v.get('unit') != 'seconds' else ' h'}" for k, v in data7["cards"].items()))
            if not args.keep:
                cr.rollback()
            met = all(worst[k] <= GOALS[k] for k in worst) and max(cold, warm) * 1000 <= GOALS["cron"]
            print("result   : " + ("every goal met" if met else "some goals NOT met") + " (medians)")
            assert math.isfinite(cold)
    finally:
        odoo.sql_db.close_all()
        if args.keep:
            print(f"kept database {db}")
        else:
            subprocess.run(["dropdb", "--if-exists", db], check=False)


if __name__ == "__main__":
    main()
