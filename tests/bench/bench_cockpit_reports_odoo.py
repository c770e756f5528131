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
import subprocess
import sys
import threading
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


class RssSampler(threading.Thread):
    """The process's resident memory every 20 ms (/proc/self/statm): ru_maxrss cannot be reset, and
    loading the registry peaks higher than a report run, so the run's own peak is sampled."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = self.current()
        self.done = threading.Event()

    @staticmethod
    def current():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def run(self):
        while not self.done.wait(0.02):
            self.peak = max(self.peak, self.current())

    def stop(self):
        self.done.set()
        self.join()
        return max(self.peak, self.current())


def child(db, fmt, rows, breaches, profile=False):
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
        report = report.sudo()
        now = odoo.fields.Datetime.now()
        # Phase 1 (timed apart): the owner's dashboard and SLA figures.
        began = time.perf_counter()
        report._collect(now)
        collect_seconds = time.perf_counter() - began
        env.invalidate_all()
        profiler = None
        if profile:
            import cProfile
            profiler = cProfile.Profile()
            profiler.enable()
        sampler = RssSampler()
        before = sampler.peak
        sampler.start()
        began = time.perf_counter()
        run = report._run("manual")  # the whole run: figures again, lists, file, history
        env.flush_all()
        elapsed = time.perf_counter() - began
        peak = sampler.stop()
        if profiler:
            import pstats
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        result = {"format": fmt, "state": run.state, "error": run.error or "", "rows": run.row_count,
                  "sections": run.section_rows, "seconds": round(elapsed, 2),
                  "collect_seconds": round(collect_seconds, 2),
                  "before_mb": round(before / 2 ** 20, 1), "peak_mb": round(peak / 2 ** 20, 1),
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
    parser.add_argument("--db", help="reuse this database built by an earlier run (kept; nothing is built)")
    parser.add_argument("--keep", action="store_true", help="keep the database built and print its name")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each run on stderr")
    parser.add_argument("--child", nargs=2, metavar=("DB", "FORMAT"))
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], args.rows, args.breaches, args.profile)

    import odoo
    from odoo import SUPERUSER_ID, api

    db = args.db or f"maildesk_bench_reports_{os.getpid()}"
    keep = args.keep or bool(args.db)
    try:
        if not args.db:
            registry = bench_cockpit.odoo_registry(db)
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                started = time.perf_counter()
                bench_cockpit.build(env, args.n, args.t, args.seed, args.days)
                env["maildesk.thread"]._cron_cockpit_sla(now=bench_cockpit.NOW, time_budget=3600, full=True)
                cr.commit()
                print(f"workload : built in {time.perf_counter() - started:.0f} s; "
                      f"load average {os.getloadavg()[0]:.1f}")
            odoo.sql_db.close_db(db)
        describe(db)
        for fmt in args.formats.split(","):
            command = [sys.executable, __file__, "--rows", str(args.rows), "--child", db, fmt]
            command += (["--breaches"] if args.breaches else []) + (["--profile"] if args.profile else [])
            out = subprocess.run(command, capture_output=True, text=True)
            if args.profile:
                print(out.stderr[-12000:])
            if out.returncode:
                print(f"{fmt:>4}: failed\n{out.stderr[-3000:]}")
                continue
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            extra = round(figures["peak_mb"] - figures["before_mb"], 1)
            print(f"{fmt:>4}: run {figures['state']} in {figures['seconds']} s (of which the figures "
                  f"{figures['collect_seconds']} s), {figures['rows']:,} rows ({figures['sections']}), "
                  f"RSS {figures['before_mb']} MB before the run, peak {figures['peak_mb']} MB during it "
                  f"(+{extra} MB), file {figures['file_mb']} MB; load average {os.getloadavg()[0]:.1f} "
                  f"{figures['error']}")
    finally:
        odoo.sql_db.close_all()
        if keep:
            print(f"kept database {db}")
        else:
            subprocess.run(["dropdb", "--if-exists", db], check=False)


def describe(db):
    out = subprocess.run(["psql", "-qtA", "-d", db, "-c",
                          "SELECT count(*) FILTER (WHERE conversation_state = 'waiting_for_us' AND ck_wait_since "
                          "IS NOT NULL), count(*), (SELECT count(*) FROM maildesk_message) FROM maildesk_thread"],
                         capture_output=True, text=True, check=True).stdout.strip()
    waiting, total, messages = (int(x) for x in out.split("|"))
    print(f"workload : {messages:,} messages, {total:,} conversations, {waiting:,} needing a reply")


if __name__ == "__main__":
    main()
