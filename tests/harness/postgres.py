"""A throwaway PostgreSQL database for engine tests that need a real server (skips without one)."""
import contextlib
import shutil
import subprocess
import uuid

import pytest


@contextlib.contextmanager
def scratch_database(prefix):
    """A connection to a new database named ``<prefix>_<random>``, dropped afterwards."""
    if not shutil.which("createdb"):
        pytest.skip("PostgreSQL client tools (createdb) not installed")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    if subprocess.run(["createdb", name], capture_output=True).returncode:
        pytest.skip("PostgreSQL not reachable (createdb failed)")
    psycopg2 = pytest.importorskip("psycopg2")
    conn = psycopg2.connect(dbname=name)
    try:
        yield conn
    finally:
        conn.close()
        subprocess.run(["dropdb", "--if-exists", name], capture_output=True)
