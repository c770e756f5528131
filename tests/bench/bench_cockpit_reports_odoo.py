#!/usr/bin/env python3
"""Benchmark: a scheduled cockpit report through the Odoo model, over 50,000 waiting threads.

Builds a fresh Odoo database with ``bench_cockpit.build`` (T conversations, default 220,000,
about a quarter of them waiting for us, over N messages, default 440,000; 20 mailboxes), then,
for each format, runs **one whole report run** (``maildesk.cockpit.report._run``: the owner's
dashboard and SLA figures, the breakdowns, the breaches and the oldest waiting threads read in
keyset chunks and streamed into the file, the file stored as an attachment in the history) as
the Cockpit Manager who sees all 20 mailboxes, with the oldest-threads list set to 50,000 rows
(KPI summary, both breakdowns and that list; ``--breaches`` adds the SLA section and its list).

Each format runs in its own child process, so its peak resident memory (ru_maxrss) is its own:
the child prints the RSS after the registry is loaded (the baseline) and the peak after the
run, the time, the rows written and the file size. Prints figures; not a test.

    python3 tests/bench/bench_cockpit_reports_odoo.py                  # 220,000 threads
    python3 tests/bench/bench_cockpit_reports_odoo.py -t 40000 -n 80000 --rows 10000
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_cockpit  # noqa: E402  (the cockpit workload generator, and conftest through it)


def addons_path():
    """The same addons path as ``bench_cockpit.odoo_registry`` (Odoo's and this repository)."""
    import odoo
    paths = [Path(odoo.__file__).parent / "addons", Path(odoo.__file__).parent.parent / "addons", HERE.parents[1]]
    return ",".join(str(p) for p in paths if p.is_dir())


def child(db, fmt, rows, breaches):
    import odoo
    from odoo import SUPERUSER_ID, api

    odoo.tools.config.parse_config([f"--addons-path={addons_path()}", "-d", db, "--log-level=warn"])
    registry = odoo.registry(db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        manager = env["res.users"].search([("login", "=", "bench_manager")])
        report = env["maildesk.cockpit.report"].with_user(manager).create({
            "name": f"Bench {fmt}", "report_format": fmt, "frequency": "daily", "period": "previous_30_days",
            "row_limit": rows, "section_summary": True, "section_breakdown": True, "section_sla": breaches,
            "section_oldest": True})
        env.flush_all()
        env.invalidate_all()
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        began = time.perf_counter()
        run = report.sudo()._run("manual")
        env.flush_all()
        elapsed = time.perf_counter() - began
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = {"format": fmt, "state": run.state, "error": run.error or "", "rows": run.row_count,
                  "sections": run.section_rows, "seconds": round(elapsed, 2),
                  "baseline_mb": round(baseline / 1024, 1), "peak_mb": round(peak / 1024, 1),
                  "file_mb": round(sum(run.attachment_ids.mapped("file_size")) / 2 ** 20, 2)}
        cr.rollback()
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=440_000, help="messages")
    parser.add_argument("-t", type=int, default=220_000, help="conversations")
    parser.add_argument("--rows", type=int, default=50_000, help="rows of the oldest-waiting-threads list")
    parser.add_argument("--days", type=int, default=60, help="days of history")
    parser.add_argument("--formats", default="xlsx,pdf,csv")
    parser.add_argument("--breaches", action="store_true",
                        help="add the SLA section (breaches list, up to --rows more rows)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", nargs=2, metavar=("DB", "FORMAT"))
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], args.rows, args.breaches)

    import odoo
    from odoo import SUPERUSER_ID, api

    db = f"maildesk_bench_reports_{os.getpid()}"
    registry = bench_cockpit.odoo_registry(db)
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            started = time.perf_counter()
            bench_cockpit.build(env, args.n, args.t, args.seed, args.days)
            env["maildesk.thread"]._cron_cockpit_sla(now=bench_cockpit.NOW, time_budget=3600, full=True)
            cr.commit()
            cr.execute("SELECT count(*) FILTER (WHERE conversation_state = 'waiting_for_us' "
                       "AND ck_wait_since IS NOT NULL), count(*) FROM maildesk_thread")
            waiting, total = cr.fetchone()
            cr.execute("SELECT count(*) FROM maildesk_message")
            messages = cr.fetchone()[0]
            print(f"workload : {messages:,} messages, {total:,} conversations, {waiting:,} needing a reply, "
                  f"built in {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}")
        odoo.sql_db.close_db(db)
        for fmt in args.formats.split(","):
            command = [sys.executable, __file__, "--rows", str(args.rows), "--child", db, fmt]
            out = subprocess.run(command + (["--breaches"] if args.breaches else []), capture_output=True, text=True)
            if out.returncode:
                print(f"{fmt:>4}: failed\n{out.stderr[-3000:]}")
                continue
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            extra = round(figures["peak_mb"] - figures["baseline_mb"], 1)
            print(f"{fmt:>4}: run {figures['state']} in {figures['seconds']} s, {figures['rows']:,} rows "
                  f"({figures['sections']}), peak RSS {figures['peak_mb']} MB (registry loaded "
                  f"{figures['baseline_mb']} MB, +{extra} MB), file {figures['file_mb']} MB; "
                  f"load average {os.getloadavg()[0]:.1f} {figures['error']}")
    finally:
        odoo.sql_db.close_all()
        subprocess.run(["dropdb", "--if-exists", db], check=False)


if __name__ == "__main__":
    main()
