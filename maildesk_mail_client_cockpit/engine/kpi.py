"""The cockpit's KPI definitions and the SQL that counts them: one place, no ORM loops.

Every KPI is a **predicate** over one row source (``ROW_SOURCES``): counted messages
(``m``, joined to their conversation ``t``), waiting gaps (wait-start messages ``m``) or
conversations (``t``). The card's number, its previous-period value, its breakdown per
mailbox / person and the drill-down list are all built from ``predicate(kpi)`` and
``scope_filter(scope)``, so the drill-down lists exactly the rows the card counted.

======================  ==========  ===========================================================
KPI                     rows        counted when
======================  ==========  ===========================================================
incoming                messages    kind ``in`` (see ``facts``), dated in the period
outgoing                messages    kind ``out``, dated in the period
waiting                 threads     ``conversation_state = 'waiting_for_us'`` now
needs_reply             threads     waiting, and a counted customer message is unanswered
overdue                 threads     needs reply, and its SLA due time has passed
first_response          gaps        first gap of a segment, answered in the period
response_time           gaps        any gap, answered in the period
======================  ==========  ===========================================================

All KPIs exclude noise conversations (automation's ``t.is_noise``: only auto-generated mail;
the cockpit's triage mark ``t.ck_marked_noise``) and everything outside the scope (the
mailboxes the user may read, the companies, the optional team / assignee / customer).
Durations are business seconds of the mailbox's team calendar, measured at ingest.

Parameters are psycopg2 named placeholders; callers pass ``params`` as built here.
"""
from dataclasses import dataclass

from . import bizhours, wait_due

MESSAGE_KPIS = ("incoming", "outgoing")
GAP_KPIS = ("first_response", "response_time")
THREAD_KPIS = ("waiting", "needs_reply", "overdue")
KPIS = MESSAGE_KPIS + THREAD_KPIS + GAP_KPIS
UNASSIGNED = -1  # assignee filter value for "nobody"

_PREDICATES = {
    "incoming": "m.ck_kind = 'in' AND m.date >= %(start)s AND m.date < %(end)s",
    "outgoing": "m.ck_kind = 'out' AND m.date >= %(start)s AND m.date < %(end)s",
    "first_response": ("m.ck_wait_start AND m.ck_first AND m.ck_answered_at >= %(start)s "
                       "AND m.ck_answered_at < %(end)s"),
    "response_time": "m.ck_wait_start AND m.ck_answered_at >= %(start)s AND m.ck_answered_at < %(end)s",
    "waiting": "t.conversation_state = 'waiting_for_us'",
    "needs_reply": "t.conversation_state = 'waiting_for_us' AND t.ck_wait_since IS NOT NULL",
    "overdue": ("t.conversation_state = 'waiting_for_us' AND t.ck_wait_since IS NOT NULL "
                "AND t.sla_due_at <= %(now)s"),
}


@dataclass(frozen=True)
class Scope:
    """Which conversations a query may see. ``account_ids`` must already be what the user reads."""

    account_ids: tuple
    company_ids: tuple
    team_id: int | None = None
    user_id: int | None = None  # assignee; UNASSIGNED for nobody
    partner_id: int | None = None


def rows_of(kpi):
    if kpi in MESSAGE_KPIS:
        return "messages"
    if kpi in GAP_KPIS:
        return "gaps"
    if kpi in THREAD_KPIS:
        return "threads"
    raise ValueError(f"Unknown KPI {kpi!r}: use one of {', '.join(KPIS)}.")


def predicate(kpi):
    rows_of(kpi)
    return _PREDICATES[kpi]


def scope_filter(scope):
    """SQL condition on ``t`` (the conversation) and its params for ``scope``."""
    sql = ["t.account_id = ANY(%(account_ids)s)", "t.company_id = ANY(%(company_ids)s)",
           "NOT coalesce(t.is_noise, false)", "NOT coalesce(t.ck_marked_noise, false)"]
    params = {"account_ids": list(scope.account_ids), "company_ids": list(scope.company_ids)}
    if scope.team_id:
        sql.append("t.team_id = %(team_id)s")
        params["team_id"] = scope.team_id
    if scope.user_id == UNASSIGNED:
        sql.append("t.user_id IS NULL")
    elif scope.user_id:
        sql.append("t.user_id = %(user_id)s")
        params["user_id"] = scope.user_id
    if scope.partner_id:
        sql.append("t.ck_partner_id = %(partner_id)s")
        params["partner_id"] = scope.partner_id
    return " AND ".join(sql), params


def _from(kind):
    if kind == "threads":
        return "maildesk_thread t"
    # Messages are narrowed by their own account column first (the partial indexes lead with it).
    return "maildesk_message m JOIN maildesk_thread t ON t.id = m.thread_id"


def _account_guard(kind):
    return "" if kind == "threads" else " AND m.account_id = ANY(%(account_ids)s)"


def rows_sql(kpi, scope, start, end, now):
    """The rows behind a card: ``(thread_id, message_id, at, seconds)``; count them for the card.

    ``at``: the message date (messages), the gap start (gaps), the wait start (threads).
    ``seconds``: the business seconds of a gap; NULL otherwise.
    """
    kind = rows_of(kpi)
    where, params = scope_filter(scope)
    params.update(start=start, end=end, now=now)
    if kind == "threads":
        select = "t.id AS thread_id, NULL::int AS message_id, t.ck_wait_since AS at, NULL::float AS seconds"
    elif kind == "gaps":
        select = "t.id AS thread_id, m.id AS message_id, m.date AS at, m.ck_reply_seconds AS seconds"
    else:
        select = "t.id AS thread_id, m.id AS message_id, m.date AS at, NULL::float AS seconds"
    sql = f"SELECT {select} FROM {_from(kind)} WHERE {where}{_account_guard(kind)} AND ({_PREDICATES[kpi]})"
    return sql, params


def count_sql(kpi, scope, start, end, now):
    """The card's number for a count KPI: ``count(*)`` over exactly ``rows_sql``."""
    sql, params = rows_sql(kpi, scope, start, end, now)
    return f"SELECT count(*) FROM ({sql}) rows_", params


def page_sql(kpi, scope, start, end, now, limit, offset, order="at"):
    """One drill-down page over ``rows_sql`` (the total comes from ``count_sql``).

    No window count: ``count(*) OVER ()`` would read every row behind the page. The order
    (the row's moment, then conversation and message ids) is the order of the partial indexes
    ``maildesk_message_ck_page_idx`` and ``maildesk_thread_ck_page2_idx``, so a page reads about
    ``offset + limit`` index entries.
    """
    sql, params = rows_sql(kpi, scope, start, end, now)
    direction = "ASC" if order == "at" else "DESC"
    params.update(limit=limit, offset=offset)
    return (f"SELECT r.* FROM ({sql}) r "
            f"ORDER BY r.at {direction} NULLS LAST, r.thread_id, r.message_id "
            f"LIMIT %(limit)s OFFSET %(offset)s"), params


def _local_day(column):
    """The local day of ``column`` as its 1-based index in ``period.days`` (0: before the period):
    a binary search over the days' UTC starts (``%(day_starts)s``, DST-exact from ``bizhours``),
    much cheaper per row than two ``AT TIME ZONE`` conversions. ``day_of`` maps it back."""
    return f"width_bucket({column}, %(day_starts)s::timestamp[])"


def day_starts(period):
    return [bizhours.local_day_bounds(period.tz, day)[0] for day in period.days]


def day_of(period, bucket):
    """The local date of a ``_local_day`` bucket; None outside the period."""
    return period.days[bucket - 1] if bucket and 1 <= bucket <= len(period.days) else None


def _period_params(scope, period):
    where, params = scope_filter(scope)
    params.update(start=period.start, end=period.end, prev_start=period.prev_start, prev_end=period.prev_end,
                  day_starts=day_starts(period))
    return where, params


def _prev(predicate):
    return predicate.replace("%(start)s", "%(prev_start)s").replace("%(end)s", "%(prev_end)s")


# GROUPING(day, account, user) of messages_summary_sql -> grouping set (a set bit: not grouped).
MESSAGE_SETS = {0b011: "day", 0b101: "account", 0b110: "user"}


def messages_summary_sql(scope, period):
    """Incoming and outgoing in one scan: per local day over both periods, and per mailbox and
    per person over the current one (GROUPING SETS). Rows: ``(grouping, day, account, user,
    incoming, outgoing, prev_incoming, prev_outgoing)``; ``MESSAGE_SETS[grouping]`` names the set."""
    where, params = _period_params(scope, period)
    inc, out = _PREDICATES["incoming"], _PREDICATES["outgoing"]
    day = _local_day("m.date")
    return (f"SELECT GROUPING({day}, t.account_id, t.user_id), {day}, t.account_id, t.user_id, "
            f"count(*) FILTER (WHERE {inc}), count(*) FILTER (WHERE {out}), "
            f"count(*) FILTER (WHERE {_prev(inc)}), count(*) FILTER (WHERE {_prev(out)}) "
            f"FROM {_from('messages')} WHERE {where}{_account_guard('messages')} AND m.ck_kind IN ('in', 'out') "
            f"AND m.date >= %(prev_start)s AND m.date < %(end)s "  # one index range; FILTERs split it
            f"AND (m.date >= %(start)s OR m.date < %(prev_end)s) "  # not the gap between the periods
            f"GROUP BY GROUPING SETS (({day}), (t.account_id), (t.user_id))"), params


def _duration_aggs(flt):
    return ", ".join(f"{expr} FILTER (WHERE {flt})" for expr in (
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY m.ck_reply_seconds)",
        "percentile_cont(0.9) WITHIN GROUP (ORDER BY m.ck_reply_seconds)",
        "avg(m.ck_reply_seconds)", "count(*)"))


def durations_sql(scope, period):
    """First response and response time (median, p90, mean, count) in one scan.

    Rows: ``(grouping, is_current, day, account, user, <first x4>, <reply x4>)`` where
    grouping is 'total' (per is_current), 'day' (per is_current and local day), 'account' or
    'user' (current period only, ``is_current`` NULL).
    """
    where, params = _period_params(scope, period)
    current = "(m.ck_answered_at >= %(start)s)"
    day = _local_day("m.ck_answered_at")
    aggs = ", ".join([_duration_aggs("m.ck_first"), _duration_aggs("true"),
                      _duration_aggs(f"m.ck_first AND {current}")])
    sql = (f"SELECT GROUPING({current}, {day}, t.account_id, t.user_id), {current}, {day}, t.account_id, "
           f"t.user_id, {aggs} FROM {_from('gaps')} WHERE {where}{_account_guard('gaps')} AND m.ck_wait_start "
           f"AND m.ck_reply_seconds IS NOT NULL "
           f"AND m.ck_answered_at >= %(prev_start)s AND m.ck_answered_at < %(end)s "
           f"AND (m.ck_answered_at >= %(start)s OR m.ck_answered_at < %(prev_end)s) "
           f"GROUP BY GROUPING SETS (({current}, {day}), ({current}), (t.account_id), (t.user_id))")
    return sql, params


DURATION_SETS = {0b0011: "day", 0b0111: "total", 0b1101: "account", 0b1110: "user"}


def threads_summary_sql(scope, now):
    """Waiting / needs reply / overdue now: in total, per mailbox and per person (one scan).
    Rows: ``(grouping, account, user, waiting, needs_reply, overdue)``."""
    where, params = scope_filter(scope)
    params.update(now=now)
    aggs = ", ".join(f"count(*) FILTER (WHERE {_PREDICATES[k]})" for k in THREAD_KPIS)
    return (f"SELECT GROUPING(t.account_id, t.user_id), t.account_id, t.user_id, {aggs} "
            f"FROM maildesk_thread t WHERE {where} AND t.conversation_state = 'waiting_for_us' "
            f"GROUP BY GROUPING SETS ((), (t.account_id), (t.user_id))"), params


THREAD_SETS = {0b11: "total", 0b01: "account", 0b10: "user"}


def backlog_history_sql(scope, period):
    """Waiting gaps over time, as events, for the daily series of needs reply and overdue.

    Returns rows ``(event, day, n)``: ``base_open`` / ``base_overdue`` (open / overdue at the
    period start, day NULL), then per local day ``open`` (+ gaps started), ``close`` (- gaps
    answered), ``due`` (+ gaps that passed their due time unanswered), ``due_close`` (- overdue
    gaps answered). The value at the end of a day is the base plus the events up to that day.
    Every event concerns a gap still open at the period start or started in it, so one scan
    (the CTE) feeds them all. Reconstructed from the message timeline: a thread closed without
    any reply counts as waiting until then; noise is as it is now. The gaps come from two index
    ranges (``ck_gap_open_idx``: never answered; ``ck_answered_idx``: answered since the period
    start), not from every gap ever stored.
    """
    where, params = scope_filter(scope)
    params.update(start=period.start, end=period.end, day_starts=day_starts(period))
    return f"""
        WITH g AS MATERIALIZED (
            SELECT m.date AS since, m.ck_answered_at AS ans, d.due_at AS due
              FROM {_from('gaps')}{wait_due.join()}
             WHERE {where}{_account_guard('gaps')} AND m.ck_wait_start AND m.date < %(end)s
               AND m.ck_answered_at IS NULL
             UNION ALL
            SELECT m.date, m.ck_answered_at, d.due_at
              FROM {_from('gaps')}{wait_due.join()}
             WHERE {where}{_account_guard('gaps')} AND m.ck_wait_start AND m.date < %(end)s
               AND m.ck_answered_at >= %(start)s
        )
        SELECT 'base_open' AS event, NULL::int AS day, count(*) AS n FROM g
         WHERE since < %(start)s AND (ans IS NULL OR ans > %(start)s)
        UNION ALL
        SELECT 'base_overdue', NULL::int, count(*) FROM g
         WHERE due < %(start)s AND (ans IS NULL OR ans > %(start)s)
        UNION ALL
        SELECT 'open', {_local_day('since')}, count(*) FROM g WHERE since >= %(start)s GROUP BY 2
        UNION ALL
        SELECT 'close', {_local_day('ans')}, count(*) FROM g
         WHERE ans >= %(start)s AND ans < %(end)s AND since < ans GROUP BY 2
        UNION ALL
        SELECT 'due', {_local_day('due')}, count(*) FROM g
         WHERE due >= %(start)s AND due < %(end)s AND (ans IS NULL OR ans > due) GROUP BY 2
        UNION ALL
        SELECT 'due_close', {_local_day('ans')}, count(*) FROM g
         WHERE ans >= %(start)s AND ans < %(end)s AND due < ans GROUP BY 2
    """, params


def backlog_series(rows, days):
    """Fold ``backlog_history_sql`` rows into end-of-day values: ``(needs_reply, overdue)`` lists
    and the values at the period start (the previous period's end)."""
    base_open = base_overdue = 0
    deltas = {}
    for event, day, n in rows:
        if event == "base_open":
            base_open = n
        elif event == "base_overdue":
            base_overdue = n
        else:
            open_delta, due_delta = deltas.get(day, (0, 0))
            sign = 1 if event in ("open", "due") else -1
            if event in ("open", "close"):
                open_delta += sign * n
            else:
                due_delta += sign * n
            deltas[day] = (open_delta, due_delta)
    open_series, due_series = [], []
    current_open, current_due = base_open, base_overdue
    for day in days:
        open_delta, due_delta = deltas.get(day, (0, 0))
        current_open += open_delta
        current_due += due_delta
        open_series.append(current_open)
        due_series.append(current_due)
    return open_series, due_series, base_open, base_overdue
