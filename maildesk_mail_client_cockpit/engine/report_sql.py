"""The SQL behind the report sections the dashboard does not already compute.

Every query starts from ``kpi.scope_filter(scope)``: the same mailboxes, companies, team,
customer and noise exclusion as the cockpit's cards, so a report never sees more than its
owner's dashboard.

SLA attainment (``sla_sql``)
    A wait (gap) with an SLA due time counts in a period when it was **answered** in the
    period (met when answered at or before its due time, breached otherwise) or when its due
    time **passed** in the period and it was still unanswered at the period's end (breached,
    open). Attainment = met / (met + breached). Computed for the period and the previous equal
    period (the trend), in total, per mailbox and per person, in one scan.

Lists (``waiting_page_sql``, ``breaches_page_sql``)
    Keyset pages (``WHERE (key, id) > (last key, last id) ORDER BY key, id LIMIT n``) in the
    order of the partial indexes, so a 50,000-row section is read chunk by chunk, each chunk
    as cheap as the first, and never held in memory whole.

Parameters are psycopg2 named placeholders, as in ``kpi``.
"""
from datetime import datetime

from . import kpi, wait_due

FIRST_KEY = (datetime(1, 1, 1), 0)  # before every (moment, id) key

# GROUPING(account, user) of sla_sql -> the grouping set.
SLA_SETS = {0b11: "total", 0b01: "account", 0b10: "user"}


def sla_sql(scope, period):
    """Rows ``(grouping, is_current, account, user, met, breached_answered, breached_open)``."""
    where, params = kpi.scope_filter(scope)
    params.update(start=period.start, end=period.end, prev_start=period.prev_start, prev_end=period.prev_end)
    answered = "m.ck_answered_at >= w.ws AND m.ck_answered_at < w.we"
    open_breach = ("d.due_at >= w.ws AND d.due_at < w.we "
                   "AND (m.ck_answered_at IS NULL OR m.ck_answered_at >= w.we)")
    return f"""
        SELECT GROUPING(t.account_id, t.user_id), w.cur, t.account_id, t.user_id,
               count(*) FILTER (WHERE {answered} AND m.ck_answered_at <= d.due_at),
               count(*) FILTER (WHERE {answered} AND m.ck_answered_at > d.due_at),
               count(*) FILTER (WHERE {open_breach})
          FROM {wait_due.TABLE} d JOIN maildesk_message m ON m.id = d.message_id
          JOIN maildesk_thread t ON t.id = m.thread_id
         CROSS JOIN (VALUES (true, %(start)s::timestamp, %(end)s::timestamp),
                            (false, %(prev_start)s::timestamp, %(prev_end)s::timestamp)) AS w(cur, ws, we)
         WHERE {where} AND m.account_id = ANY(%(account_ids)s) AND m.ck_wait_start
           AND ((m.ck_answered_at >= %(prev_start)s AND m.ck_answered_at < %(end)s)
                OR (d.due_at >= %(prev_start)s AND d.due_at < %(end)s))
           AND (({answered}) OR ({open_breach}))
         GROUP BY GROUPING SETS ((w.cur), (w.cur, t.account_id), (w.cur, t.user_id))
    """, params


def attainment(met, breached):
    """Share of waits answered in time (0..1), None without any wait with a target."""
    total = (met or 0) + (breached or 0)
    return (met or 0) / total if total else None


_THREAD_JOINS = """
      JOIN maildesk_account a ON a.id = t.account_id
      LEFT JOIN maildesk_team tm ON tm.id = t.team_id
      LEFT JOIN res_users u ON u.id = t.user_id
      LEFT JOIN res_partner up ON up.id = u.partner_id
      LEFT JOIN res_partner cp ON cp.id = t.ck_partner_id"""
_THREAD_COLUMNS = ("t.subject, a.name, tm.name, up.name, coalesce(cp.name, cp.email, t.participants)")
THREAD_FIELDS = ("subject", "mailbox", "team", "assignee", "customer")


def waiting_page_sql(scope, now, after=FIRST_KEY, limit=2000):
    """One chunk of the conversations that need a reply now, oldest wait first.

    Rows: ``(wait_since, thread_id, subject, mailbox, team, assignee, customer, sla_status,
    sla_due_at)``; the next chunk starts after the last row's ``(wait_since, thread_id)``.
    """
    where, params = kpi.scope_filter(scope)
    params.update(now=now, after_at=after[0], after_id=after[1], limit=limit)
    return f"""
        SELECT t.ck_wait_since, t.id, {_THREAD_COLUMNS}, t.sla_status, t.sla_due_at
          FROM maildesk_thread t {_THREAD_JOINS}
         WHERE {where} AND ({kpi.predicate("needs_reply")})
           AND (t.ck_wait_since, t.id) > (%(after_at)s, %(after_id)s)
         ORDER BY t.ck_wait_since, t.id
         LIMIT %(limit)s
    """, params


def breaches_page_sql(scope, period, after=FIRST_KEY, limit=2000):
    """One chunk of the waits breached in the period (``sla_sql``'s breached), by due time.

    Rows: ``(due_at, message_id, subject, mailbox, team, assignee, customer, waiting_since,
    answered_at)``; ``answered_at`` is NULL for a wait still open at the period's end (or
    answered after it).
    """
    where, params = kpi.scope_filter(scope)
    params.update(start=period.start, end=period.end, after_at=after[0], after_id=after[1], limit=limit)
    return f"""
        SELECT d.due_at, m.id, {_THREAD_COLUMNS}, m.date,
               CASE WHEN m.ck_answered_at < %(end)s THEN m.ck_answered_at END
          FROM {wait_due.TABLE} d JOIN maildesk_message m ON m.id = d.message_id
          JOIN maildesk_thread t ON t.id = m.thread_id {_THREAD_JOINS}
         WHERE {where} AND m.account_id = ANY(%(account_ids)s) AND m.ck_wait_start
           AND ((m.ck_answered_at >= %(start)s AND m.ck_answered_at < %(end)s AND m.ck_answered_at > d.due_at)
                OR (d.due_at >= %(start)s AND d.due_at < %(end)s
                    AND (m.ck_answered_at IS NULL OR m.ck_answered_at >= %(end)s)))
           AND (d.due_at, d.message_id) > (%(after_at)s, %(after_id)s)
         ORDER BY d.due_at, d.message_id
         LIMIT %(limit)s
    """, params


def chunks(fetch, sql_builder, limit, chunk=2000):
    """Stream rows of a keyset query: ``fetch((sql, params))`` returns a list of rows whose first
    two columns are the key. Stops after ``limit`` rows (0 or None: no limit)."""
    after = FIRST_KEY
    produced = 0
    while True:
        size = chunk if not limit else min(chunk, limit - produced)
        if size <= 0:
            return
        rows = fetch(sql_builder(after, size))
        yield from rows
        produced += len(rows)
        if len(rows) < size:
            return
        after = (rows[-1][0], rows[-1][1])
