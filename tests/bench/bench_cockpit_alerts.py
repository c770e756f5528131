#!/usr/bin/env python3
"""Benchmark: one cron run of the cockpit's alert evaluation, 200 rules over a large workload.

The workload is the cockpit benchmark's (``bench_cockpit.build``: N messages, default 1,000,000,
in T conversations over 20 mailboxes, 4 teams, 3,000 customers, loaded with COPY), reused by
import. On top of it, R alert rules (default 200) owned by the four team leaders (the Cockpit
Manager sees all 20 mailboxes, the three others their team's five), a realistic mix:

    40 %  backlog now (waiting / needs reply / overdue), per team, mailbox or customer
    25 %  incoming / outgoing over the last 1, 4 or 24 hours
    15 %  mean first response / response time over the last 4 or 24 hours
    10 %  anomaly: incoming / outgoing of the last 24 hours against the same weekday
    10 %  backlog split per mailbox (one alert instance per mailbox)

each with an in-app channel, so notices are created and delivered as in production. Thresholds
are calibrated on the data so that about 12 % of the threshold rules breach (``calibrate``).
It times ``_cron_evaluate`` over several runs 5 minutes apart, split into the evaluation
(queries, states, events queued) and the sending of the queued notices; the first run creates
the states of the breaching instances, the next ones are the routine (pending alerts fire,
repeats). Goal: <= 2 s per cron run. Prints figures; not a test.

    python3 tests/bench/bench_cockpit_alerts.py                       # 1,000,000 messages, 200 rules
    python3 tests/bench/bench_cockpit_alerts.py -n 200000 -t 40000    # smaller
"""
import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_cockpit  # noqa: E402  (the workload generator and COPY loader, shared)

GOAL_MS = 2000


def make_rules(env, n_rules, seed):
    rng = random.Random(seed)
    teams = env["maildesk.team"].search([], order="id")
    env.cr.execute("""SELECT ck_partner_id FROM maildesk_thread WHERE ck_partner_id IS NOT NULL
                      GROUP BY 1 ORDER BY count(*) DESC LIMIT 40""")
    customers = [row[0] for row in env.cr.fetchall()]
    channel = env["maildesk.cockpit.alert.channel"].create({"name": "Bench in-app", "kind": "inapp"})
    vals = []
    for i in range(n_rules):
        team = teams[i % len(teams)]
        owner = team.leader_id
        team_accounts = team.account_ids
        base = {"name": f"Bench rule {i:03d}", "user_id": owner.id, "channel_ids": [(6, 0, channel.ids)],
                "pending_minutes": rng.choice((0, 0, 10, 15)), "repeat_minutes": rng.choice((60, 240, 0))}
        roll = rng.random()
        where = rng.random()
        scope = ({"scope_team_id": team.id} if where < 0.4 else
                 {"scope_account_id": rng.choice(team_accounts.ids)} if where < 0.8 else
                 {"scope_partner_id": rng.choice(customers)})
        if roll < 0.40:
            base.update(kpi=rng.choice(("waiting", "needs_reply", "overdue")), operator=">",
                        threshold=rng.choice((5, 20, 50, 200)), **scope)
        elif roll < 0.65:
            base.update(kpi=rng.choice(("incoming", "outgoing")), operator=rng.choice((">", "<")),
                        threshold=rng.choice((1, 10, 50)), window_hours=rng.choice((1, 4, 24)), **scope)
        elif roll < 0.80:
            base.update(kpi=rng.choice(("first_response", "response_time")), operator=">",
                        threshold=rng.choice((30, 120, 480)), window_hours=rng.choice((4, 24)), **scope)
        elif roll < 0.90:
            base.update(kpi=rng.choice(("incoming", "outgoing")), mode="anomaly", **scope)
        else:
            base.update(kpi=rng.choice(("needs_reply", "overdue")), operator=">", threshold=10,
                        split_by_account=True, scope_team_id=team.id)
        vals.append(base)
    rules = env["maildesk.cockpit.alert.rule"].create(vals)
    calibrate(rules, rng)
    return rules


def calibrate(rules, rng, breaching=0.12):
    """Thresholds from the current values: about ``breaching`` of the threshold rules fire, the
    rest sit comfortably below their threshold (a dashboard where everything is red is not one
    anybody would keep)."""
    observations, _queries = rules._observe(bench_cockpit.NOW)
    highest = {}
    for (rule_id, _key), obs in observations.items():
        if obs.value is not None:
            highest[rule_id] = max(highest.get(rule_id, 0), obs.value)
    for rule in rules.filtered(lambda r: r.mode == "threshold"):
        value = highest.get(rule.id, 0)
        if rng.random() < breaching:
            rule.write({"operator": ">", "threshold": max(value * 0.8 - 1, 0)})
        else:
            rule.write({"operator": ">", "threshold": round(value * 1.5 + 5)})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1_000_000, help="messages")
    parser.add_argument("-t", type=int, default=None, help="conversations (default n / 5)")
    parser.add_argument("--days", type=int, default=180, help="days of history")
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("-r", "--runs", type=int, default=5, help="cron runs timed (5 minutes apart)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database and print its name")
    parser.add_argument("--reuse", metavar="DB", help="time again on a database kept by --keep (no rebuild; "
                                                      "its alert states, events and deliveries are reset)")
    args = parser.parse_args()
    n_threads = args.t or max(args.n // 5, 1)

    import odoo
    from odoo import SUPERUSER_ID, api

    db = args.reuse or f"maildesk_bench_alerts_{os.getpid()}"
    if args.reuse:
        args.keep = True
    registry = bench_cockpit.odoo_registry(db, reuse=bool(args.reuse))  # --reuse: -u, no rebuild
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            started = time.perf_counter()
            if args.reuse:
                cr.execute("DELETE FROM maildesk_cockpit_alert_event; DELETE FROM maildesk_cockpit_alert_state; "
                           "UPDATE maildesk_cockpit_alert_rule SET last_evaluated_at = NULL")
            else:
                bench_cockpit.build(env, args.n, n_threads, args.seed, args.days)
            cr.execute("SELECT count(*), count(DISTINCT thread_id) FROM maildesk_message")
            n_msg, n_threads = cr.fetchone()
            print(f"workload : {n_msg:,} messages, {n_threads:,} conversations, {bench_cockpit.ACCOUNTS} mailboxes, "
                  f"{'reused' if args.reuse else 'built'} in {time.perf_counter() - started:.0f} s")
            Rule = env["maildesk.cockpit.alert.rule"]
            rules = Rule.search([]) if args.reuse else make_rules(env, args.rules, args.seed)
            cr.commit()
            mix = {}
            for rule in rules:
                key = "split" if rule.split_by_account else ("anomaly" if rule.mode == "anomaly" else rule.kpi)
                mix[key] = mix.get(key, 0) + 1
            print(f"rules    : {len(rules)} ({', '.join(f'{k} {v}' for k, v in sorted(mix.items()))}), "
                  f"owners {len(rules.user_id)}")
            samples, evals = [], []
            now = bench_cockpit.NOW
            Delivery = env["maildesk.cockpit.alert.delivery"]
            for run in range(args.runs):
                env.invalidate_all()
                at = now + timedelta(minutes=5 * run)
                t0 = time.perf_counter()
                stats = Rule.search([])._evaluate(at)
                cr.commit()  # as _cron_evaluate does
                t1 = time.perf_counter()
                sent = Delivery._send_queued()
                t2 = time.perf_counter()
                elapsed = (t2 - t0) * 1000
                samples.append(elapsed)
                evals.append((t1 - t0) * 1000)
                cr.execute("SELECT status, count(*) FROM maildesk_cockpit_alert_state GROUP BY 1 ORDER BY 1")
                states = ", ".join(f"{s} {c}" for s, c in cr.fetchall())
                print(f"cron run {run + 1}: {elapsed:6.0f} ms = evaluate {(t1 - t0) * 1000:5.0f} ms "
                      f"({stats['queries']} queries, {stats['notices']} notices) + send {(t2 - t1) * 1000:5.0f} ms "
                      f"({sent} deliveries); states: {states or 'none'}   goal {GOAL_MS} ms  "
                      f"{'ok' if elapsed <= GOAL_MS else 'OVER'}")
            print(f"summary  : cron run median {statistics.median(samples):.0f} ms, max {max(samples):.0f} ms; "
                  f"evaluation alone median {statistics.median(evals):.0f} ms, max {max(evals):.0f} ms; "
                  f"{len(rules)} rules at {n_msg:,} messages (goal <= {GOAL_MS} ms per cron run)")
    finally:
        odoo.sql_db.close_all()
        if args.keep:
            print(f"database kept: {db}")
        else:
            subprocess.run(["dropdb", "--if-exists", db], check=False)


if __name__ == "__main__":
    main()
