"""Business hours: working time of a calendar in its own time zone, minus holidays.

A ``WorkCalendar`` is built from Odoo's ``resource.calendar`` by the model layer (time zone,
weekly attendance lines, leaves) and used here as plain values:

- ``attendance``: ``{weekday: [(hour_from, hour_to), ...]}``, Monday = 0, hours as floats in
  the calendar's local time (``8.5`` = 08:30);
- ``second_week``: the same for the second week of a two-week calendar (Odoo's
  ``two_weeks_calendar``, lines with ``week_type`` ``"1"``; then ``attendance`` holds the
  lines of ``week_type`` ``"0"``), ``None`` for a one-week calendar. Which week a date is in
  follows Odoo (``resource.calendar.attendance.get_week_type``): the parity of the number of
  whole weeks since 0001-01-01, taken on the calendar's local date;
- ``leaves``: ``[(start, end), ...]`` naive UTC datetimes (public holidays, closures);
- ``tz``: IANA name; local times are converted with ``zoneinfo`` so DST days have the right
  length.

All datetimes in and out are naive UTC (Odoo's convention). Attendance lines limited to a
date range (``date_from`` / ``date_to``) are read as always valid.
"""
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = timezone.utc
MAX_SCAN_DAYS = 400  # give up looking for working time after this (a calendar with no hours)


@dataclass(frozen=True)
class WorkCalendar:
    tz: str = "UTC"
    attendance: dict = field(default_factory=dict)
    leaves: tuple = ()
    second_week: dict = None

    def zone(self):
        return _zone(self.tz)

    def day_hours(self, local_day):
        """The ``(hour_from, hour_to)`` pairs of a local date, from the week it falls in."""
        if self.second_week is not None and week_type(local_day):
            return self.second_week.get(local_day.weekday(), ())
        return self.attendance.get(local_day.weekday(), ())


def week_type(day):
    """0 for the first week of a two-week calendar, 1 for the second (Odoo's rule)."""
    return (day.toordinal() - 1) // 7 % 2


@lru_cache(maxsize=64)
def _zone(name):
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _to_utc_naive(local_dt):
    return local_dt.astimezone(UTC).replace(tzinfo=None)


def _hour(day, hours, zone):
    whole = int(hours)
    minutes = round((hours - whole) * 60)
    if whole >= 24:
        return _to_utc_naive(datetime.combine(day + timedelta(days=1), time(0), zone))
    return _to_utc_naive(datetime.combine(day, time(whole, minutes), zone))


def _subtract(interval, leaves):
    pieces = [interval]
    for l_start, l_end in leaves:
        out = []
        for start, end in pieces:
            if l_end <= start or l_start >= end:
                out.append((start, end))
                continue
            if start < l_start:
                out.append((start, l_start))
            if l_end < end:
                out.append((l_end, end))
        pieces = out
    return pieces


def working_intervals(calendar, start, end):
    """Working intervals (naive UTC) between ``start`` and ``end``, holidays removed."""
    if calendar is None:
        return [(start, end)] if end > start else []
    zone = calendar.zone()
    local_day = start.replace(tzinfo=UTC).astimezone(zone).date() - timedelta(days=1)
    last_day = end.replace(tzinfo=UTC).astimezone(zone).date() + timedelta(days=1)
    leaves = [(s, e) for s, e in calendar.leaves if e > start and s < end]
    result = []
    while local_day <= last_day:
        for hour_from, hour_to in calendar.day_hours(local_day):
            s = max(_hour(local_day, hour_from, zone), start)
            e = min(_hour(local_day, hour_to, zone), end)
            if e > s:
                result.extend(_subtract((s, e), leaves))
        local_day += timedelta(days=1)
    return sorted(result)


def is_working(calendar, when):
    """True when ``when`` (naive UTC) falls in working time; no calendar = always.

    The hot path of rule conditions: one time-zone conversion and a few comparisons.
    """
    if calendar is None:
        return True
    for start, end in calendar.leaves:
        if start <= when < end:
            return False
    local = when.replace(tzinfo=UTC).astimezone(calendar.zone())
    hour = local.hour + local.minute / 60 + local.second / 3600
    return any(hour_from <= hour < hour_to for hour_from, hour_to in calendar.day_hours(local.date()))


def business_seconds_between(calendar, start, end):
    if end <= start:
        return 0.0
    return sum((e - s).total_seconds() for s, e in working_intervals(calendar, start, end))


def add_business_hours(calendar, start, hours):
    """The moment ``hours`` working hours after ``start``; None when the calendar never works."""
    if calendar is None:
        return start + timedelta(hours=hours)
    remaining = hours * 3600.0
    cursor = start
    for _chunk in range(MAX_SCAN_DAYS // 7 + 1):
        window_end = cursor + timedelta(days=7)
        for s, e in working_intervals(calendar, cursor, window_end):
            length = (e - s).total_seconds()
            if length >= remaining:
                return s + timedelta(seconds=remaining)
            remaining -= length
        cursor = window_end
    return None
