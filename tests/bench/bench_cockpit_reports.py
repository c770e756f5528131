#!/usr/bin/env python3
"""Benchmark: CSV / XLSX / PDF report files over N generated thread rows (default 50,000).

Each format runs in its own child process so its peak resident memory (ru_maxrss) is its own;
the child prints the RSS after its imports (the baseline), the peak after writing, the time and
the file size. Rows come from a generator, as the cockpit's cursor-backed iterator gives them,
so the figures show what streaming costs. Prints figures; not a test.

    python3 tests/bench/bench_cockpit_reports.py            # 50,000 rows
    python3 tests/bench/bench_cockpit_reports.py -n 10000
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
import conftest  # noqa: E402,F401,I001  (registers the addons as bare packages for their engines)


def child(fmt, n):
    import openpyxl  # noqa: F401  (loaded before the baseline so it is not counted as row memory)
    import reportlab.pdfgen.canvas  # noqa: F401

    from maildesk_mail_client_cockpit.engine import reports
    from maildesk_mail_client_cockpit.engine.reports import Column, Report, Section

    columns = [Column("thread", "Thread", "text", 40), Column("customer", "Customer", "text", 24),
               Column("mailbox", "Mailbox", "text", 16), Column("waiting", "Waiting", "hours", 10),
               Column("messages", "Messages", "int", 10), Column("sla", "SLA met", "percent", 10),
               Column("received", "Received", "datetime", 18)]
    start = datetime(2026, 1, 1, 8)

    def rows():
        for i in range(n):
            yield {"thread": f"Re: order {i:06d} delivery question", "customer": f"Customer {i % 3000}",
                   "mailbox": f"support{i % 20}", "waiting": (i % 97) / 3, "messages": i % 17,
                   "sla": (i % 10) / 10, "received": start + timedelta(minutes=i)}

    report = Report(title="Bench report", summary=[("Threads", n, "")],
                    trend=[((date(2026, 1, 1) + timedelta(days=d)).isoformat(), 100 + d % 7) for d in range(30)],
                    sections=[Section("Threads", columns, rows())])
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.NamedTemporaryFile(suffix="." + fmt) as out:
        began = time.perf_counter()
        if fmt == "csv":
            reports.write_csv(report.sections[0], out)
        elif fmt == "xlsx":
            reports.write_xlsx(report, out)
        else:
            reports.write_pdf(report, out)
        out.flush()
        elapsed = time.perf_counter() - began
        size = os.path.getsize(out.name)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"format": fmt, "rows": n, "seconds": round(elapsed, 2), "baseline_mb": round(baseline / 1024, 1),
                      "peak_mb": round(peak / 1024, 1), "file_mb": round(size / 2 ** 20, 2)}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=50000)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.n)
    for fmt in ("csv", "xlsx", "pdf"):
        out = subprocess.run([sys.executable, __file__, "-n", str(args.n), "--child", fmt],
                             capture_output=True, text=True, check=True).stdout
        figures = json.loads(out)
        extra = round(figures["peak_mb"] - figures["baseline_mb"], 1)
        print(f"{fmt:>4}: {figures['rows']:,} rows in {figures['seconds']} s, peak RSS {figures['peak_mb']} MB "
              f"(after imports {figures['baseline_mb']} MB, +{extra} MB), file {figures['file_mb']} MB")


if __name__ == "__main__":
    main()
