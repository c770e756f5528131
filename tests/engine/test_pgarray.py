"""Array literals read back by PostgreSQL exactly as psycopg2's own list adaptation."""
from datetime import date, datetime

import pytest

from harness.postgres import scratch_database
from maildesk_mail_client.engine import pgarray

CASES = [
    ("int[]", [1, None, -7, 2_000_000_000]),
    ("float8[]", [0.1, None, 1e-300, 12345.678]),
    ("bool[]", [True, False, None]),
    ("timestamp[]", [datetime(2026, 3, 2, 9, 0), None, datetime(2026, 3, 29, 1, 30, 0, 250)]),
    ("date[]", [date(2026, 1, 31), None]),
    ("varchar[]", ["first", None, 'a "quoted" \\ {brace}, comma', "NULL", "", " spaced "]),
    ("int[]", []),
]


@pytest.fixture(scope="module")
def cr():
    with scratch_database("maildesk_pgarray") as conn, conn.cursor() as cursor:
        yield cursor


@pytest.mark.parametrize("cast, values", CASES)
def test_literal_reads_back_like_a_list(cr, cast, values):
    cr.execute(f"SELECT %s::{cast}, %s::{cast}", (pgarray.literal(values), values))
    ours, theirs = cr.fetchone()
    assert ours == theirs == values
