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
import threading
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


class _Span:
    """The working intervals of a calendar over the local days [first, last), as epoch seconds
    (``lo``, ``hi``: the same range), with the working seconds before / at the end of each
    interval (``cum`` / ``upto``: prefix sums counted from ``first``). Never changed once made,
    so threads share it without a lock; positions from two spans are comparable when both
    start on the same ``first`` day."""

    __slots__ = ("first", "last", "lo", "hi", "starts", "ends", "cum", "upto")

    def __init__(self, first=None, last=None, lo=None, hi=None, starts=(), ends=(), cum=(), upto=()):
        self.first, self.last, self.lo, self.hi = first, last, lo, hi
        self.starts, self.ends, self.cum, self.upto = starts, ends, cum, upto

    def position(self, ts):
        """Working seconds from ``first`` up to the epoch moment ``ts``."""
        index = bisect_right(self.starts, ts) - 1
        if index < 0:
            return 0.0
        return self.cum[index] + min(ts, self.ends[index]) - self.starts[index]


class _Timeline:
    """One calendar's working time as a ``_Span``, grown on demand and shared by every thread.

    Position (working seconds from the span's first day up to a moment) is one binary search over
    the interval starts, ``add`` one over the cumulative ends: O(log n) whatever the span (a
    wait of months is common) and no time-zone conversion per moment. Built from
    ``_day_intervals`` (so DST days and leaves are exactly the per-day rules); it grows forward
    (the same first day: positions stay comparable) and backward (a new first day) SPAN days
    at a time. A growth makes a new span and publishes it with one assignment, under a lock
    that only growths take: a reader works on the one span it read and never sees a half-grown
    table (growing the shared lists in place let a reader index past them, and two threads
    growing at once could append the same days twice).
    """

    SPAN = 400  # days added around a request when the table grows

    def __init__(self, calendar):
        self.calendar = calendar
        self.span = _Span()
        self._lock = threading.Lock()

    def _span(self, first, last, base=None):
        """The span of [first, last): ``base``'s (which starts on ``first``) with the days after it."""
        calendar = self.calendar
        starts, ends, cum, upto = (list(base.starts), list(base.ends), list(base.cum), list(base.upto)) \
            if base else ([], [], [], [])
        total = upto[-1] if upto else 0.0
        day = base.last if base else first
        while day < last:
            for a, b in _day_intervals(calendar.tz, calendar.attendance, calendar.leaves, day):
                a, b = _epoch(a), _epoch(b)
                starts.append(a)
                ends.append(b)
                cum.append(total)
                total += b - a
                upto.append(total)
            day += DAY
        return _Span(first, last, base.lo if base else _epoch(local_day_bounds(calendar.tz, first)[0]),
                     _epoch(local_day_bounds(calendar.tz, last)[0]), starts, ends, cum, upto)

    def cover(self, ts, span=None):
        """A span holding the epoch moment ``ts``. With ``span`` (which starts before ``ts``): one
        starting on the same day, so positions read from ``span`` stay comparable."""
        with self._lock:
            current = self.span
            if span is None and current.lo is not None and current.lo <= ts < current.hi:
                return current
            day = _local_date(self.calendar.tz, EPOCH + timedelta(seconds=ts))
            if span is not None:
                base = current if current.first == span.first and current.last >= span.last else span
                if ts < base.hi:
                    return base
                grown = self._span(base.first, day + timedelta(days=self.SPAN), base)
                if base is current:
                    self.span = grown
                return grown
            if current.lo is None:
                grown = self._span(day - timedelta(days=self.SPAN), day + timedelta(days=self.SPAN))
            elif ts < current.lo:
                grown = self._span(day - timedelta(days=self.SPAN), current.last)
            else:
                grown = self._span(current.first, day + timedelta(days=self.SPAN), current)
            self.span = grown
            return grown

    def at(self, span, target, since):
        """The first epoch moment whose position in ``span`` reaches ``target``, or None when the
        table grew ``MAX_DAYS`` past the epoch moment ``since`` without reaching it."""
        while not span.upto or span.upto[-1] < target:
            if span.hi - since > MAX_DAYS * 86400:
                return None
            span = self.cover(span.hi, span)
        index = bisect_left(span.upto, target)  # the first interval whose end reaches the target
        return span.starts[index] + (target - span.cum[index])


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
    span = table.span  # one span for both positions (another thread may publish a new one meanwhile)
    if span.lo is None or not span.lo <= a < span.hi:
        span = table.cover(a)
    if not b < span.hi:
        span = table.cover(b, span)  # b > a >= the span's start: grown forward, positions stay comparable
    return span.position(b) - span.position(a)


def add(calendar, start, seconds):
    """The moment ``seconds`` working seconds after ``start`` (naive UTC), or None if never."""
    if seconds <= 0:
        return start
    table = _timeline(calendar)
    ts = (start - EPOCH).total_seconds()
    span = table.span
    if span.lo is None or not span.lo <= ts < span.hi:
        span = table.cover(ts)
    moment = table.at(span, span.position(ts) + float(seconds), ts)
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

