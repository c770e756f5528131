"""Scheduled reports on plain values: next run in the owner's time zone, covered days, chunked rows."""
from datetime import date, datetime

import pytest

from maildesk_mail_client_cockpit.engine import report_schedule, report_sql
from maildesk_mail_client_cockpit.engine.report_schedule import next_run, period_dates


def test_daily_runs_at_local_time_strictly_after():
    """08:00 in Berlin is 07:00 UTC in winter; a run at that moment schedules the next day."""
    assert next_run("daily", 8, "Europe/Berlin", datetime(2026, 3, 4, 6, 0)) == datetime(2026, 3, 4, 7, 0)
    assert next_run("daily", 8, "Europe/Berlin", datetime(2026, 3, 4, 7, 0)) == datetime(2026, 3, 5, 7, 0)


def test_daily_keeps_local_time_across_dst():
    """After the spring change 08:00 Berlin is 06:00 UTC: the wall-clock time stays."""
    assert next_run("daily", 8, "Europe/Berlin", datetime(2026, 3, 28, 8, 0)) == datetime(2026, 3, 29, 6, 0)
    assert next_run("daily", 8.5, "America/New_York", datetime(2026, 11, 1, 0, 0)) == datetime(2026, 11, 1, 13, 30)


def test_skipped_and_repeated_local_times():
    """02:30 does not exist on 29 March in Berlin (runs 03:30 local); on 25 October it runs the first time."""
    assert report_schedule.local_to_utc("Europe/Berlin", date(2026, 3, 29), 2.5) == datetime(2026, 3, 29, 1, 30)
    assert report_schedule.local_to_utc("Europe/Berlin", date(2026, 10, 25), 2.5) == datetime(2026, 10, 25, 0, 30)


def test_weekly_on_the_weekday_in_the_owner_zone():
    """Monday 08:00 New York from a Wednesday evening UTC."""
    assert next_run("weekly", 8, "America/New_York", datetime(2026, 3, 4, 20), weekday=0) == \
        datetime(2026, 3, 9, 12, 0)


def test_monthly_day_past_the_end_is_the_last_day():
    assert next_run("monthly", 8, "UTC", datetime(2026, 4, 1), monthday=31) == datetime(2026, 4, 30, 8, 0)
    assert next_run("monthly", 8, "UTC", datetime(2026, 2, 2), monthday=30) == datetime(2026, 2, 28, 8, 0)
    assert next_run("monthly", 0, "UTC", datetime(2026, 1, 31, 0, 0), monthday=31) == datetime(2026, 2, 28, 0, 0)


@pytest.mark.parametrize("args, message", [
    (("hourly", 8, "UTC"), "Unknown frequency"),
    (("daily", 24, "UTC"), "hour from 0"),
    (("daily", "8", "UTC"), "hour from 0"),
    (("daily", 8, "Mars/Olympus"), "Unknown time zone"),
    (("weekly", 8, "UTC", datetime(2026, 1, 1), 7), "weekday"),
    (("monthly", 8, "UTC", datetime(2026, 1, 1), 0, 0), "day of the month"),
])
def test_bad_schedules_are_plain_errors(args, message):
    args = list(args)
    if len(args) == 3:
        args.append(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match=message):
        next_run(*args)


@pytest.mark.parametrize("period, first, last", [
    ("previous_day", date(2026, 3, 3), date(2026, 3, 3)),
    ("previous_7_days", date(2026, 2, 25), date(2026, 3, 3)),
    ("previous_30_days", date(2026, 2, 2), date(2026, 3, 3)),
    ("previous_week", date(2026, 2, 23), date(2026, 3, 1)),
    ("previous_month", date(2026, 2, 1), date(2026, 2, 28)),
    ("week_to_date", date(2026, 3, 2), date(2026, 3, 4)),
    ("month_to_date", date(2026, 3, 1), date(2026, 3, 4)),
])
def test_period_dates_relative_to_the_run_day(period, first, last):
    assert period_dates(period, date(2026, 3, 4)) == (first, last)  # a Wednesday


def test_previous_month_in_january():
    assert period_dates("previous_month", date(2026, 1, 15)) == (date(2025, 12, 1), date(2025, 12, 31))


def test_unknown_period_is_a_plain_error():
    with pytest.raises(ValueError, match="Unknown report period"):
        period_dates("forever", date(2026, 1, 1))


def test_chunks_stream_keyset_pages_up_to_the_limit():
    """Each fetch asks for the rows after the last key; the limit stops early; no page is kept."""
    data = [(datetime(2026, 1, 1, 0, i // 2), i) for i in range(25)]
    asked = []

    def fetch(query):
        after, size = query
        asked.append((after, size))
        return [row for row in data if row > after][:size]

    rows = list(report_sql.chunks(fetch, lambda after, size: (after, size), limit=0, chunk=10))
    assert rows == data
    assert [size for _after, size in asked] == [10, 10, 10] and asked[1][0] == data[9]
    asked.clear()
    assert list(report_sql.chunks(fetch, lambda after, size: (after, size), limit=12, chunk=10)) == data[:12]
    assert [size for _after, size in asked] == [10, 2]


def test_attainment():
    assert report_sql.attainment(9, 1) == 0.9
    assert report_sql.attainment(0, 0) is None
