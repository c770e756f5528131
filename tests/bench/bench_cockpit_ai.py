#!/usr/bin/env python3
"""Benchmark: the AI panel's computed parts (no AI call) on the cockpit benchmark's workload.

Builds the workload of ``bench_cockpit.py`` (same generator, same sizes and options), runs
the SLA cron once, then times, warm, median of R runs, as the same Cockpit Manager:

    get_panel               queue, anomalies (30 days against 8 weeks), risk ranking,
                            rebalance proposal, over every mailbox of the manager; warm runs
                            reuse the anomalies a worker keeps for 15 minutes
    get_panel, cold         the same with the anomalies recomputed (the first open of the day)
    get_panel, one team     the same with the team filter
    get_briefing            the template path (no provider is set up): the facts and the prompt

One leave (one member of the first team, all day today) makes the rebalance use the calendar.
Prints figures; not a test.

    python3 tests/bench/bench_cockpit_ai.py -n 200000 -t 40000
"""
import argparse
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_cockpit  # noqa: E402  (its workload generator and helpers)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1_000_000, help="messages")
    parser.add_argument("-t", type=int, default=200_000, help="conversations")
    parser.add_argument("--days", type=int, default=180, help="days of history")
    parser.add_argument("-r", "--runs", type=int, default=5, help="timed runs per call")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print where one get_panel call spends its time")
    args = parser.parse_args()
    import odoo
    from odoo import SUPERUSER_ID, api

    db = f"maildesk_bench_cockpit_ai_{os.getpid()}"
    registry = bench_cockpit.odoo_registry(db)
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            started = time.perf_counter()
            data = bench_cockpit.build(env, args.n, args.t, args.seed, args.days)
            env["maildesk.thread"]._cron_cockpit_sla(time_budget=3600, full=True)
            cr.commit()
            cr.execute("SELECT count(*), count(*) FILTER (WHERE conversation_state = 'waiting_for_us') "
                       "FROM maildesk_thread")
            n_thr, n_open = cr.fetchone()
            print(f"workload : {args.n:,} messages requested, {n_thr:,} conversations ({n_open:,} waiting for us), "
                  f"built in {time.perf_counter() - started:.0f} s")
            team = env["maildesk.team"].search([], order="id", limit=1)
            member = team.member_ids.filtered(lambda u: u != data["manager"])[:1]
            resource = env["resource.resource"].create({"name": member.name, "user_id": member.id,
                                                        "calendar_id": team.resource_calendar_id.id})
            today = datetime.utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
            env["resource.calendar.leaves"].create({"name": "Day off", "resource_id": resource.id,
                                                    "calendar_id": team.resource_calendar_id.id,
                                                    "date_from": today, "date_to": today + timedelta(days=1)})
            from odoo.addons.maildesk_mail_client_cockpit.models.maildesk_cockpit_ai import _ANOMALY_CACHE

            panel = env["maildesk.cockpit.ai"].with_user(data["manager"])

            def cold():
                _ANOMALY_CACHE.clear()
                return panel.get_panel({})

            cases = [
                ("get_panel, all my mailboxes", lambda: panel.get_panel({})),
                ("get_panel, cold (anomalies recomputed)", cold),
                ("get_panel, one team", lambda: panel.get_panel({"team_id": team.id})),
                ("get_briefing (template, no provider)", lambda: panel.get_briefing({"team_id": team.id})),
            ]
            print(f"timings  : median / max of {args.runs} warm runs, as a Cockpit Manager (rules and scope on)")
            for label, call in cases:
                median, peak = bench_cockpit.timed(env, call, args.runs)
                print(f"  {label:<40} {median:8.1f} / {peak:8.1f} ms")
            if args.profile:
                import cProfile
                import pstats
                profiler = cProfile.Profile()
                profiler.runcall(cold)
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            result = panel.get_panel({})
            moves = result["rebalance"]["moves"]
            print(f"panel    : {len(result['anomalies'])} anomalies/unusual days, {len(result['risks'])} risks shown "
                  f"(top score {result['risks'][0]['score'] if result['risks'] else '-'}), {len(moves)} moves over "
                  f"{len(result['rebalance']['people'])} people")
            cr.rollback()
    finally:
        odoo.sql_db.close_all()
        subprocess.run(["dropdb", "--if-exists", db], check=False)


if __name__ == "__main__":
    main()
