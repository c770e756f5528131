"""Business-hours arithmetic on a working calendar given as plain data.

A ``Calendar`` is what a ``resource.calendar`` says, without Odoo: the time zone, the weekly
attendance lines ``(weekday, hour_from, hour_to)`` (Monday = 0, local wall-clock hours as
floats, 8.5 = 08:30) and the leaves (holidays) as UTC ``(start, end)`` pairs. ``attendance``
``None`` means round the clock (a 24/7 mailbox); leaves still apply.

All datetimes in and out are naive UTC, as Odoo stores them. Working intervals are built per
local day and converted to UTC with ``zoneinfo``, so a DST change shortens or lengthens the
day exactly as the wall clock does (a 9-17 day stays 8 h on both sides of the change; a
round-the-clock day is 23 h or 25 h). A local time that does not exist (the spring gap) is
read with the offset before the change, the usual ``fold=0`` rule.

Examples (9-17, Monday-Friday): Friday 16:30 -> Monday 09:30 counts 1 h; Saturday ->
Sunday counts 0; ``add(Friday 16:00, 2 h)`` is Monday 10:00.
"""
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

MAX_DAYS = 3660  # add() gives up (returns None) after ten years without working time
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Calendar:
    tz: str = "UTC"
    attendance: tuple | None = ((0, 9.0, 17.0), (1, 9.0, 17.0), (2, 9.0, 17.0), (3, 9.0, 17.0), (4, 9.0, 17.0))
    leaves: tuple = field(default=())

    @classmethod
    def round_the_clock(cls, tz="UTC", leaves=()):
        return cls(tz=tz, attendance=None, leaves=tuple(leaves))

    def key(self):
        return (self.tz, self.attendance, self.leaves)


def _hour(day, hour, tzinfo):
    hours = int(hour)
    minutes = round((hour - hours) * 60)
    if hours >= 24:
        local = datetime.combine(day + DAY, time(0), tzinfo)
    else:
        local = datetime.combine(day, time(hours, minutes), tzinfo)
    return local.astimezone(timezone.utc).replace(tzinfo=None)


@lru_cache(maxsize=200_000)
def _day_intervals(tz, attendance, leaves, day):
    """Working UTC intervals of one local ``day``, leaves removed, sorted, disjoint."""
    tzinfo = ZoneInfo(tz)
    if attendance is None:
        raw = [(_hour(day, 0, tzinfo), _hour(day, 24, tzinfo))]
    else:
        raw = sorted((_hour(day, start, tzinfo), _hour(day, end, tzinfo))
                     for weekday, start, end in attendance if weekday == day.weekday() and end > start)
    merged = []
    for start, end in raw:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    for leave_start, leave_end in leaves:
        cut = []
        for start, end in merged:
            if leave_end <= start or leave_start >= end:
                cut.append((start, end))
                continue
            if leave_start > start:
                cut.append((start, leave_start))
            if leave_end < end:
                cut.append((leave_end, end))
        merged = cut
    return tuple(merged)


@lru_cache(maxsize=64)
def _zone(tz):
    return ZoneInfo(tz)


@lru_cache(maxsize=65536)
def _local_date(tz, moment):
    return moment.replace(tzinfo=timezone.utc).astimezone(_zone(tz)).date()


def _local_day(calendar, moment):
    # Memoised: one SLA evaluation asks for the same moments (wait start, due) several times.
    return _local_date(calendar.tz, moment)


def _intervals(calendar, day):
    return _day_intervals(calendar.tz, calendar.attendance, calendar.leaves, day)


def _day_total(calendar, day):
    return sum((b - a).total_seconds() for a, b in _intervals(calendar, day))


class _Cumulative:
    """Working seconds of the local days before each day, from a base day (grown on demand).

    The working intervals of a local day lie inside that day, so the working time up to a
    moment is ``before(day) + the part of that day's intervals before the moment``: a
    difference of two such values is O(1) whatever the span (a wait of months is common).
    """

    SPAN = 400  # days added around a request when the table grows

    def __init__(self, calendar, day):
        self.calendar = calendar
        self.base = day - timedelta(days=self.SPAN)
        self.cum = [0.0]

    def before(self, day):
        if day < self.base:
            shift = (self.base - day).days + self.SPAN
            new_base = self.base - timedelta(days=shift)
            head = [0.0]
            for i in range(shift):
                head.append(head[-1] + _day_total(self.calendar, new_base + timedelta(days=i)))
            self.cum = head[:-1] + [head[-1] + value for value in self.cum]
            self.base = new_base
        index = (day - self.base).days
        while index >= len(self.cum):
            self.cum.append(self.cum[-1] + _day_total(self.calendar, self.base + timedelta(days=len(self.cum) - 1)))
        return self.cum[index]


_CUMULATIVE = {}


def _cumulative(calendar, day):
    table = _CUMULATIVE.get(calendar.key())
    if table is None:
        if len(_CUMULATIVE) > 1000:
            _CUMULATIVE.clear()
        table = _CUMULATIVE[calendar.key()] = _Cumulative(calendar, day)
    return table


def _position(calendar, moment):
    """Working seconds from the table's base up to ``moment``."""
    day = _local_day(calendar, moment)
    total = _cumulative(calendar, day).before(day)
    for a, b in _intervals(calendar, day):
        if moment <= a:
            break
        total += (min(b, moment) - a).total_seconds()
    return total


def business_seconds(calendar, start, end):
    """Working seconds of ``calendar`` between two naive-UTC datetimes (0 if end <= start)."""
    if not start or not end or end <= start:
        return 0.0
    first = _position(calendar, start)  # may grow the table backwards: read it first
    return _position(calendar, end) - first


def add(calendar, start, seconds):
    """The moment ``seconds`` working seconds after ``start`` (naive UTC), or None if never."""
    if seconds <= 0:
        return start
    day = _local_day(calendar, start)
    table = _cumulative(calendar, day)
    target = _position(calendar, start) + float(seconds)
    # Jump close by the average working day, then walk (a few steps at most).
    week = table.before(day + timedelta(days=7)) - table.before(day)
    if week > 0 and seconds > 2 * week:
        day += timedelta(days=max(0, int(seconds / week * 7) - 7))
    for _i in range(MAX_DAYS):
        if table.before(day + DAY) >= target:
            break
        day += DAY
    else:
        return None
    while day > _local_day(calendar, start) and table.before(day) >= target:
        day -= DAY
    left = target - table.before(day)
    for a, b in _intervals(calendar, day):
        span = (b - a).total_seconds()
        if span >= left:
            return a + timedelta(seconds=left)
        left -= span
    return None


def is_working(calendar, moment):
    return any(a <= moment < b for a, b in _intervals(calendar, _local_day(calendar, moment)))


def local_day_bounds(tz, day):
    """UTC (start, end) of the local calendar ``day`` in ``tz`` (23 h or 25 h on DST days)."""
    tzinfo = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo).astimezone(timezone.utc).replace(tzinfo=None)
    end = datetime.combine(day + DAY, time(0), tzinfo).astimezone(timezone.utc).replace(tzinfo=None)
    return start, end


def to_local_date(tz, moment):
    return moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz)).date()

