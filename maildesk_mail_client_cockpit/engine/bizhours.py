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
from bisect import bisect_left, bisect_right
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


class _Timeline:
    """The working intervals of a calendar over a range of local days, as epoch seconds, with the
    working seconds before each interval (a prefix sum).

    Position (working seconds from the table's base up to a moment) is one binary search over
    the interval starts, ``add`` one over the cumulative ends: O(log n) whatever the span (a
    wait of months is common) and no time-zone conversion per moment. Built once per
    calendar from ``_day_intervals`` (so DST days and leaves are exactly the per-day rules);
    it grows forward by appending and backward by rebuilding (rare: SPAN days at a time).
    """

    SPAN = 400  # days added around a request when the table grows

    def __init__(self, calendar):
        self.calendar = calendar
        self.first = self.last = None  # local days covered: [first, last)
        self.lo = self.hi = None  # the same range in epoch seconds
        # cum[i] / upto[i]: working seconds before / at the end of interval i
        self.starts, self.ends, self.cum, self.upto = [], [], [], []

    def _append_days(self, first, last):
        calendar = self.calendar
        total = self.upto[-1] if self.upto else 0.0
        day = first
        while day < last:
            for a, b in _day_intervals(calendar.tz, calendar.attendance, calendar.leaves, day):
                a, b = _epoch(a), _epoch(b)
                self.starts.append(a)
                self.ends.append(b)
                self.cum.append(total)
                total += b - a
                self.upto.append(total)
            day += DAY

    def _build(self, first, last):
        self.starts, self.ends, self.cum, self.upto = [], [], [], []
        self._append_days(first, last)
        self.first, self.last = first, last
        self.lo = _epoch(local_day_bounds(self.calendar.tz, first)[0])
        self.hi = _epoch(local_day_bounds(self.calendar.tz, last)[0])

    def _grow_forward(self, days):
        last = self.last + timedelta(days=days)
        self._append_days(self.last, last)
        self.last = last
        self.hi = _epoch(local_day_bounds(self.calendar.tz, last)[0])

    def cover(self, ts):
        """Make sure the epoch moment ``ts`` lies inside the table (may rebuild it: positions read
        before a ``cover`` of another moment are not comparable with positions read after)."""
        if self.lo is not None and self.lo <= ts < self.hi:
            return
        day = _local_date(self.calendar.tz, EPOCH + timedelta(seconds=ts))
        if self.lo is None:
            self._build(day - timedelta(days=self.SPAN), day + timedelta(days=self.SPAN))
        elif ts < self.lo:
            self._build(day - timedelta(days=self.SPAN), self.last)
        else:
            self._grow_forward((day - self.last).days + self.SPAN)

    def position(self, ts):
        index = bisect_right(self.starts, ts) - 1
        if index < 0:
            return 0.0
        return self.cum[index] + min(ts, self.ends[index]) - self.starts[index]

    def at(self, target, since):
        """The first epoch moment whose position reaches ``target``, or None when the table grew
        ``MAX_DAYS`` past the epoch moment ``since`` without reaching it."""
        while not self.upto or self.upto[-1] < target:
            if self.hi - since > MAX_DAYS * 86400:
                return None
            self._grow_forward(self.SPAN)
        index = bisect_left(self.upto, target)  # the first interval whose end reaches the target
        return self.starts[index] + (target - self.cum[index])


EPOCH = datetime(1970, 1, 1)


def _epoch(moment):
    return (moment - EPOCH).total_seconds()


def _from_epoch(ts):
    return EPOCH + timedelta(seconds=ts)


_TIMELINES = {}
_LAST = (None, None)  # the last calendar looked up and its table: an SLA run asks for one again and again


def _timeline(calendar):
    global _LAST
    last = _LAST  # one read of one tuple: another thread may replace it meanwhile
    if calendar is last[0]:  # identity, not equality: hashing the key tuples cost as much as a search
        return last[1]
    key = calendar.key()
    table = _TIMELINES.get(key)
    if table is None:
        if len(_TIMELINES) > 1000:
            _TIMELINES.clear()
        table = _TIMELINES[key] = _Timeline(calendar)
    _LAST = (calendar, table)
    return table


def forget_tables():
    """Drop every cached timeline (tests: a table grows from the first moment asked)."""
    global _LAST
    _TIMELINES.clear()
    _LAST = (None, None)


def business_seconds(calendar, start, end):
    """Working seconds of ``calendar`` between two naive-UTC datetimes (0 if end <= start)."""
    if not start or not end or end <= start:
        return 0.0
    table = _timeline(calendar)
    # _epoch() and cover()'s test inline: an SLA run makes hundreds of thousands of these calls.
    a, b = (start - EPOCH).total_seconds(), (end - EPOCH).total_seconds()
    if table.lo is None or not table.lo <= a < table.hi:
        table.cover(a)
    if not b < table.hi:
        table.cover(b)  # b > a >= the table's start: it can only grow forward, positions stay comparable
    return table.position(b) - table.position(a)


def add(calendar, start, seconds):
    """The moment ``seconds`` working seconds after ``start`` (naive UTC), or None if never."""
    if seconds <= 0:
        return start
    table = _timeline(calendar)
    ts = (start - EPOCH).total_seconds()
    if table.lo is None or not table.lo <= ts < table.hi:
        table.cover(ts)
    moment = table.at(table.position(ts) + float(seconds), ts)
    return None if moment is None else EPOCH + timedelta(seconds=moment)


def _day_total(calendar, day):
    return sum((b - a).total_seconds() for a, b in _intervals(calendar, day))


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

