"""When a scheduled report runs and which local days it covers, on plain values.

Schedule
    ``daily`` at a local time, ``weekly`` on a weekday (0 = Monday) at a local time, or
    ``monthly`` on a day of the month at a local time (a day past the month's end means its
    last day: 31 runs on 30 April and 28/29 February). The time zone is the report owner's, so
    "08:00" stays 08:00 local across DST changes. A local time that does not exist (the hour
    skipped in spring) is shifted forward by the gap (02:30 runs at 03:30); a time that exists
    twice (the hour repeated in autumn) runs at the first of the two.

Period
    The local days a run covers, relative to the local day of the run (``today``):
    ``previous_day`` (yesterday), ``previous_7_days`` / ``previous_30_days`` (ending
    yesterday), ``previous_week`` (Monday to Sunday of last week), ``previous_month`` (the
    last calendar month), ``week_to_date`` / ``month_to_date`` (from Monday / the 1st up to
    today, the run's moment).

Both take and return naive UTC datetimes and ``date`` objects; ValueError in plain words on
bad input.
"""
import calendar
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FREQUENCIES = ("daily", "weekly", "monthly")
PERIODS = ("previous_day", "previous_7_days", "previous_week", "previous_30_days", "previous_month",
           "week_to_date", "month_to_date")
MAX_SEARCH_DAYS = 62  # a monthly slot is always found within two months


def _zone(tz):
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unknown time zone {tz!r}.") from exc


def _hour_minute(hour):
    if not isinstance(hour, (int, float)) or isinstance(hour, bool) or not 0 <= hour < 24:
        raise ValueError("The time of day is an hour from 0 to 23.99 (e.g. 8.5 for 08:30).")
    minutes = int(round(hour * 60))
    return min(minutes // 60, 23), minutes % 60 if minutes < 24 * 60 else 59


def local_to_utc(tz, day, hour):
    """Naive UTC moment of the local ``day`` at ``hour`` (DST gaps and folds as in the module doc)."""
    zone = _zone(tz)
    h, m = _hour_minute(hour)
    # fold=0: the first of a repeated hour; a skipped time is read with the offset before the
    # gap, i.e. shifted forward by the gap (02:30 on the spring-forward night runs at 03:30).
    local = datetime.combine(day, time(h, m), zone)
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def _is_slot(day, frequency, weekday, monthday):
    if frequency == "daily":
        return True
    if frequency == "weekly":
        return day.weekday() == weekday
    last = calendar.monthrange(day.year, day.month)[1]
    return day.day == min(monthday, last)


def next_run(frequency, hour, tz, after, weekday=0, monthday=1):
    """The first scheduled moment strictly after ``after`` (naive UTC), as naive UTC."""
    if frequency not in FREQUENCIES:
        raise ValueError(f"Unknown frequency {frequency!r}: use one of {', '.join(FREQUENCIES)}.")
    if frequency == "weekly" and (not isinstance(weekday, int) or not 0 <= weekday <= 6):
        raise ValueError("A weekly report needs a weekday from 0 (Monday) to 6 (Sunday).")
    if frequency == "monthly" and (not isinstance(monthday, int) or not 1 <= monthday <= 31):
        raise ValueError("A monthly report needs a day of the month from 1 to 31.")
    _hour_minute(hour)
    zone = _zone(tz)
    day = after.replace(tzinfo=timezone.utc).astimezone(zone).date() - timedelta(days=1)
    for _i in range(MAX_SEARCH_DAYS):
        if _is_slot(day, frequency, weekday, monthday):
            moment = local_to_utc(tz, day, hour)
            if moment > after:
                return moment
        day += timedelta(days=1)
    raise ValueError("No run could be scheduled.")  # unreachable with valid input


def period_dates(period, today):
    """``(first, last)`` local dates covered by a run on the local day ``today``."""
    if not isinstance(today, date):
        raise ValueError("The run's local day is a date.")
    yesterday = today - timedelta(days=1)
    if period == "previous_day":
        return yesterday, yesterday
    if period == "previous_7_days":
        return today - timedelta(days=7), yesterday
    if period == "previous_30_days":
        return today - timedelta(days=30), yesterday
    if period == "previous_week":
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if period == "previous_month":
        first_this = today.replace(day=1)
        last_prev = first_this - timedelta(days=1)
        return last_prev.replace(day=1), last_prev
    if period == "week_to_date":
        return today - timedelta(days=today.weekday()), today
    if period == "month_to_date":
        return today.replace(day=1), today
    raise ValueError(f"Unknown report period {period!r}: use one of {', '.join(PERIODS)}.")


def local_date(tz, moment):
    """The local date of a naive UTC moment."""
    return moment.replace(tzinfo=timezone.utc).astimezone(_zone(tz)).date()
