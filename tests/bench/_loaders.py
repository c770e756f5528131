"""What the Odoo benches share: a fresh database, COPY loaders, the post-load VACUUM, the timer.

The benches build large mailboxes by writing rows with PostgreSQL COPY (ingest has its own
bench, bench_imap_sync.py); these helpers are the plumbing around that. Imported by the
bench scripts, which run with tests/bench/ on sys.path (``python3 tests/bench/bench_x.py``).
"""
import io
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def odoo_registry(db, module):
    """A fresh database ``db`` with ``module`` (and what it depends on) installed; its registry."""
    import odoo
    addons_path = [str(Path(odoo.__file__).parent / "addons"), str(Path(odoo.__file__).parent.parent / "addons"),
                   str(REPO)]
    addons_path = ",".join(p for p in addons_path if os.path.isdir(p))
    subprocess.run(["dropdb", "--if-exists", db], check=False)
    subprocess.run([sys.executable, "-m", "odoo", "-d", db, "-i", module, "--stop-after-init",
                    "--without-demo=all", f"--addons-path={addons_path}", "--log-level=warn", "--no-http"],
                   check=True)
    odoo.tools.config.parse_config([f"--addons-path={addons_path}", "-d", db, "--log-level=warn"])
    return odoo.registry(db)


def cell(value):
    """One value in COPY's text format."""
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", "\\n")


def copy_rows(cr, table, columns, rows):
    """Write ``rows`` (tuples in the order of ``columns``) into ``table`` with one COPY."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(cell(v) for v in row) + "\n")
    buffer.seek(0)
    cr.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


class Copier:
    """Rows for one table, written with COPY every ``chunk`` rows (and on ``flush``)."""

    def __init__(self, cr, table, columns, chunk=50000, before=None):
        self.cr, self.table, self.columns, self.chunk = cr, table, columns, chunk
        self.before = before  # a Copier to flush first (rows this one references)
        self.rows = []

    def add(self, row):
        self.rows.append(row)
        if len(self.rows) >= self.chunk:
            self.flush()

    def flush(self):
        if self.before:
            self.before.flush()
        if not self.rows:
            return
        copy_rows(self.cr, self.table, self.columns, self.rows)
        self.rows = []


def vacuum_analyze(cr):
    """What autovacuum does after a bulk sync (its insert threshold): statistics, and the
    visibility map that lets the thread list run as an index-only scan. Needs the rows committed."""
    tables = ["maildesk_message", "maildesk_thread"]
    for table in ("maildesk_cockpit_rollup", "maildesk_cockpit_wait_due"):  # the cockpit's, when installed
        cr.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
        if cr.fetchone()[0]:
            tables.append(table)
    subprocess.run(["psql", "-q", "-d", cr.dbname] + [a for t in tables for a in ("-c", f"VACUUM ANALYZE {t}")],
                   check=True)


def timed(env, call, runs):
    """Median and max in ms of ``call()`` over ``runs`` warm runs (ORM cache cleared each time)."""
    call()  # warm-up: plans, caches of the registry
    samples = []
    for _ in range(runs):
        env.invalidate_all()
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)
