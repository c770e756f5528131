"""Reporting periods in the user's time zone, as naive-UTC bounds.

``today`` is the local day so far, ``7d`` / ``30d`` the last 7 / 30 local days including
today, ``custom`` the local days ``date_from``..``date_to`` inclusive. The previous period
has the same number of local days and ends where this one starts. Days are local days, so a
DST day is 23 h or 25 h long and the daily series never shifts by an hour.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from . import bizhours

PERIODS = ("today", "7d", "30d", "custom")
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    start: datetime  # naive UTC, inclusive
    end: datetime  # naive UTC, exclusive
    prev_start: datetime  # the previous equal period: [prev_start, prev_end)
    prev_end: datetime
    days: tuple  # local dates of the period, in order
    day_bounds: tuple  # UTC (start, end) of each local day
    tz: str


def resolve(kind, now, tz="UTC", date_from=None, date_to=None):
    """The ``Period`` for ``kind`` at ``now`` (naive UTC); ValueError in plain words on bad input."""
    today = bizhours.to_local_date(tz, now)
    if kind == "today":
        first, last = today, today
    elif kind in ("7d", "30d"):
        first, last = today - timedelta(days=int(kind[:-1]) - 1), today
    elif kind == "custom":
        try:
            first = date_from if isinstance(date_from, date) else date.fromisoformat(str(date_from))
            last = date_to if isinstance(date_to, date) else date.fromisoformat(str(date_to))
        except ValueError as exc:
            raise ValueError("A custom period needs a start and an end date (YYYY-MM-DD).") from exc
        if last < first:
            raise ValueError("The end of the period is before its start.")
        if (last - first).days + 1 > MAX_DAYS:
            raise ValueError(f"A custom period covers at most {MAX_DAYS} days.")
    else:
        raise ValueError(f"Unknown period {kind!r}: use one of {', '.join(PERIODS)}.")
    days = tuple(first + timedelta(days=i) for i in range((last - first).days + 1))
    bounds = tuple(bizhours.local_day_bounds(tz, day) for day in days)
    prev_first = first - timedelta(days=len(days))
    prev_start = bizhours.local_day_bounds(tz, prev_first)[0]
    end = bounds[-1][1]
    if kind == "today" or last == today:
        end = min(end, now)  # the period runs until now; the previous one is as long in days
    # As long as this one: "today until 10:00" compares with "yesterday until 10:00".
    prev_end = min(bounds[0][0], prev_start + (end - bounds[0][0]))
    return Period(start=bounds[0][0], end=end, prev_start=prev_start, prev_end=prev_end, days=days,
                  day_bounds=bounds, tz=tz)
