"""Business-hours arithmetic of the cockpit on plain calendars: weekends, holidays, zones, DST."""
import random
import sys
import threading
from datetime import datetime, timedelta

import pytest

from maildesk_mail_client_cockpit.engine import bizhours
from maildesk_mail_client_cockpit.engine.bizhours import Calendar

H = 3600
UTC_9_17 = Calendar()
BERLIN = Calendar(tz="Europe/Berlin")
NEW_YORK = Calendar(tz="America/New_York")


def test_same_day_inside_hours():
    """10:00 -> 12:30 on a Monday is 2.5 working hours."""
    assert bizhours.business_seconds(UTC_9_17, datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 12, 30)) == 2.5 * H


def test_front_examples_overnight():
    """Front's examples: 16:30 answered 09:30 next day counts 1 h; 18:00 answered 09:30 counts 30 min."""
    assert bizhours.business_seconds(UTC_9_17, datetime(2026, 3, 2, 16, 30), datetime(2026, 3, 3, 9, 30)) == H
    assert bizhours.business_seconds(UTC_9_17, datetime(2026, 3, 2, 18), datetime(2026, 3, 3, 9, 30)) == 0.5 * H


def test_weekend_counts_nothing():
    """Saturday -> Sunday is 0; Friday 16:30 -> Monday 09:30 is 1 h."""
    assert bizhours.business_seconds(UTC_9_17, datetime(2026, 3, 7, 10), datetime(2026, 3, 8, 15)) == 0
    assert bizhours.business_seconds(UTC_9_17, datetime(2026, 3, 6, 16, 30), datetime(2026, 3, 9, 9, 30)) == H


def test_holiday_is_removed():
    """A leave over a whole working day takes its 8 hours out."""
    cal = Calendar(leaves=((datetime(2026, 3, 3, 0), datetime(2026, 3, 4, 0)),))
    assert bizhours.business_seconds(cal, datetime(2026, 3, 2, 9), datetime(2026, 3, 4, 17)) == 16 * H
    assert bizhours.add(cal, datetime(2026, 3, 2, 16), 2 * H) == datetime(2026, 3, 4, 10)


def test_partial_leave():
    """A half-day leave (13:00-17:00) leaves the morning."""
    cal = Calendar(leaves=((datetime(2026, 3, 2, 13), datetime(2026, 3, 2, 17)),))
    assert bizhours.business_seconds(cal, datetime(2026, 3, 2, 8), datetime(2026, 3, 2, 20)) == 4 * H


def test_add_across_weekend():
    """Friday 16:00 + 2 working hours is Monday 10:00."""
    assert bizhours.add(UTC_9_17, datetime(2026, 3, 6, 16), 2 * H) == datetime(2026, 3, 9, 10)


def test_add_outside_hours_starts_at_opening():
    """Saturday 20:00 + 1 h is Monday 10:00."""
    assert bizhours.add(UTC_9_17, datetime(2026, 3, 7, 20), H) == datetime(2026, 3, 9, 10)


def test_time_zone_hours_are_local():
    """Berlin 9-17 in winter is 08:00-16:00 UTC; New York 9-17 is 14:00-22:00 UTC."""
    assert bizhours.business_seconds(BERLIN, datetime(2026, 1, 5, 7), datetime(2026, 1, 5, 9)) == H
    assert bizhours.business_seconds(NEW_YORK, datetime(2026, 1, 5, 13), datetime(2026, 1, 5, 15)) == H
    assert bizhours.add(NEW_YORK, datetime(2026, 1, 5, 21, 30), H) == datetime(2026, 1, 6, 14, 30)


def test_dst_spring_forward_keeps_wall_clock_hours():
    """Berlin's 29 March 2026: 9-17 local is 07:00-15:00 UTC after the change (08:00-16:00 before)."""
    assert bizhours.business_seconds(BERLIN, datetime(2026, 3, 27, 0), datetime(2026, 3, 27, 23)) == 8 * H
    assert bizhours.business_seconds(BERLIN, datetime(2026, 3, 30, 6, 30), datetime(2026, 3, 30, 7, 30)) == 0.5 * H
    # Friday 15:00 UTC (16:00 local) + 2 h: 1 h on Friday, 1 h on Monday from 07:00 UTC.
    assert bizhours.add(BERLIN, datetime(2026, 3, 27, 15), 2 * H) == datetime(2026, 3, 30, 8)


def test_dst_round_the_clock_day_is_23_hours():
    """A 24/7 calendar's DST day in Berlin has 23 hours; the autumn one 25."""
    cal = Calendar.round_the_clock("Europe/Berlin")
    start, end = bizhours.local_day_bounds("Europe/Berlin", datetime(2026, 3, 29).date())
    assert bizhours.business_seconds(cal, start, end) == 23 * H
    start, end = bizhours.local_day_bounds("Europe/Berlin", datetime(2026, 10, 25).date())
    assert bizhours.business_seconds(cal, start, end) == 25 * H


def test_add_and_count_are_inverse():
    """business_seconds(a, add(a, s)) == s over many starts and spans."""
    start = datetime(2026, 3, 20, 5, 17)
    for i in range(60):
        a = start.replace(hour=(5 + i * 7) % 24)
        for seconds in (60, 3 * H + 11, 9 * H, 41 * H):
            b = bizhours.add(BERLIN, a, seconds)
            assert bizhours.business_seconds(BERLIN, a, b) == pytest.approx(seconds)


def test_no_working_time_ever():
    """A calendar without attendance lines never reaches a due time."""
    assert bizhours.add(Calendar(attendance=()), datetime(2026, 1, 1), H) is None


def test_reversed_range_is_zero():
    assert bizhours.business_seconds(UTC_9_17, datetime(2026, 3, 3), datetime(2026, 3, 2)) == 0


def _reference_seconds(calendar, start, end):
    """Brute force: the overlap of [start, end) with every local day's working intervals."""
    total = 0.0
    day = bizhours.to_local_date(calendar.tz, start) - timedelta(days=1)
    while day <= bizhours.to_local_date(calendar.tz, end) + timedelta(days=1):
        for a, b in bizhours._intervals(calendar, day):
            total += max(0.0, (min(b, end) - max(a, start)).total_seconds())
        day += timedelta(days=1)
    return total


@pytest.mark.parametrize("calendar", [
    UTC_9_17, BERLIN, NEW_YORK, Calendar.round_the_clock("Europe/Berlin"),
    Calendar(tz="Europe/Berlin", attendance=((0, 8.0, 12.0), (0, 13.0, 17.5), (2, 9.0, 17.0), (4, 22.0, 24.0)),
             leaves=((datetime(2026, 3, 30, 5), datetime(2026, 4, 2, 12)),)),
])
def test_timeline_agrees_with_brute_force_across_dst_and_leaves(calendar):
    """The prefix-sum timeline (binary searches) equals a day-by-day recount on random spans
    around the spring and autumn DST changes, over long waits, and when the table grows both
    ways (first query in the middle, then earlier and later ones); add() inverts it."""
    bizhours.forget_tables()
    rng = random.Random(11)
    base = datetime(2026, 3, 29)
    for _i in range(300):
        start = base + timedelta(minutes=rng.randrange(-900 * 24 * 60, 900 * 24 * 60))
        end = start + timedelta(minutes=rng.choice([rng.randrange(0, 3000), rng.randrange(0, 200 * 24 * 60)]))
        assert bizhours.business_seconds(calendar, start, end) == pytest.approx(
            _reference_seconds(calendar, start, end), abs=1e-3)
        seconds = rng.choice([60.0, 3600.0, 8 * 3600.0, 40 * 3600.0, 500 * 3600.0])
        due = bizhours.add(calendar, start, seconds)
        assert bizhours.business_seconds(calendar, start, due) == pytest.approx(seconds, abs=1e-3)
        # the earliest such moment: a second earlier there is less working time
        assert _reference_seconds(calendar, start, due - timedelta(seconds=1)) < seconds


def test_threads_sharing_a_growing_timeline_get_exact_answers():
    """Odoo serves requests and crons from threads of one process, and they share each calendar's
    table. Threads asking for moments years apart (the table grows forward and is rebuilt backward
    under them) get the answers a single thread gets, and the table is never corrupted."""
    calendar = Calendar(tz="Europe/Berlin", attendance=BERLIN.attendance,
                        leaves=((datetime(2026, 12, 24, 12), datetime(2026, 12, 27)),))
    rng = random.Random(5)
    calls = []
    for _i in range(1200):
        start = datetime(2026, 6, 1) + timedelta(minutes=rng.randrange(-4000 * 24 * 60, 4000 * 24 * 60))
        calls.append((start, start + timedelta(hours=rng.randrange(0, 3000)), rng.choice([3600.0, 40 * 3600.0])))
    bizhours.forget_tables()
    expected = [(bizhours.business_seconds(calendar, s, e), bizhours.add(calendar, s, n)) for s, e, n in calls]
    results, errors = {}, []

    def work(offset):
        try:
            for i in range(offset, len(calls), 8):
                start, end, seconds = calls[i]
                results[i] = (bizhours.business_seconds(calendar, start, end), bizhours.add(calendar, start, seconds))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for _round in range(3):
            bizhours.forget_tables()
            results.clear()
            workers = [threading.Thread(target=work, args=(k,)) for k in range(8)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            assert not errors
            assert [results[i] for i in range(len(calls))] == expected
    finally:
        sys.setswitchinterval(interval)
