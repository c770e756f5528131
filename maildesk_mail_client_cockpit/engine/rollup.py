"""The KPI rollup: per local day, mailbox, team and assignee, what the cockpit counts, kept so
that a dashboard over weeks of mail reads a few thousand rows instead of every message.

Three tables (``DDL``), owned by the cockpit, not Odoo models (nothing but this module reads them):

``maildesk_cockpit_rollup``
    one row per (time zone, local day, mailbox, company, team, assignee) of non-noise
    conversations (``account_id``: the messages' mailbox, the key; ``thread_account_id``: the
    conversation's, what the figures group by, as in ``kpi.py``): incoming / outgoing counted
    messages dated that day; the response times of the waits answered that day (first
    responses and the others, packed as big-endian numbers, so medians and p90 stay exact
    and read fast; their counts beside them); the backlog events of that day (waits opened, answered, passed their due
    time, answered after it). Exactly the predicates of ``kpi.py``, grouped by day.
``maildesk_cockpit_rollup_dirty``
    (mailbox, UTC day) pairs whose rows may be out of date. PostgreSQL statement triggers on
    ``maildesk_message`` and ``maildesk_thread`` append them in the writing transaction, whatever
    wrote (ORM, the ingest's and automation's SQL, a cascade), so no write path can forget.
``maildesk_cockpit_rollup_tz``
    the time zones the rollup is built for (the cockpit users' time zones).

Readers never write and are always exact (``Plan``): a day's rows are taken unless the day is
dirty for that mailbox; dirty days and the parts of partial days (today until now, the
previous period's last day) are counted from the messages (``event_rows_sql``: a few hundred
index entries per mailbox and day) and added, or taken away from the day's row. ``fold`` (a
cron, every minute) recomputes the dirty days and builds new time zones; it runs alone (an
advisory lock) and takes the dirty rows it recomputes in its own snapshot, so a change
committed meanwhile stays dirty until the next fold.
"""
import binascii
import sys
from array import array
from datetime import datetime, timedelta

from . import bizhours, kpi, stats, wait_due

FOLD_LOCK = 0x4D444B52  # pg advisory lock key of fold(): "MDKR"

DDL = """
CREATE TABLE IF NOT EXISTS maildesk_cockpit_rollup (
    tz varchar NOT NULL, day date NOT NULL, account_id int NOT NULL,
    thread_account_id int, company_id int, team_id int, user_id int,
    incoming int NOT NULL DEFAULT 0, outgoing int NOT NULL DEFAULT 0,
    first_secs bytea NOT NULL DEFAULT '', other_secs bytea NOT NULL DEFAULT '',
    n_first int NOT NULL DEFAULT 0, n_other int NOT NULL DEFAULT 0,
    opened int NOT NULL DEFAULT 0, closed int NOT NULL DEFAULT 0,
    due int NOT NULL DEFAULT 0, due_closed int NOT NULL DEFAULT 0
);
-- The counts read index-only (the response times are the only wide columns).
CREATE INDEX IF NOT EXISTS maildesk_cockpit_rollup_key_idx ON maildesk_cockpit_rollup (tz, day, account_id)
    INCLUDE (thread_account_id, company_id, team_id, user_id, incoming, outgoing, n_first, n_other, opened, closed,
             due, due_closed);
CREATE TABLE IF NOT EXISTS maildesk_cockpit_rollup_dirty (
    account_id int NOT NULL, day date NOT NULL, txid bigint NOT NULL DEFAULT txid_current());
CREATE INDEX IF NOT EXISTS maildesk_cockpit_rollup_dirty_idx ON maildesk_cockpit_rollup_dirty (account_id, day);
CREATE TABLE IF NOT EXISTS maildesk_cockpit_rollup_tz (tz varchar PRIMARY KEY, built_at timestamp NOT NULL);
"""

_MESSAGE_COLS = ("account_id", "thread_id", "date", "ck_kind", "ck_wait_start", "ck_first", "ck_answered_at",
                 "ck_reply_seconds")
_THREAD_COLS = ("account_id", "company_id", "team_id", "user_id", "is_noise", "ck_marked_noise")
# The days a message row counts on: its date (counted message, wait opened), its answer
# (response time, wait closed) and its due time (wait overdue: kept in wait_due.TABLE, whose
# own triggers mark the due days when the due time moves).
_DUE = f"(SELECT w.due_at FROM {wait_due.TABLE} w WHERE w.message_id = {{r}}.id)"
_DAYS = "ARRAY[{r}.date::date, {r}.ck_answered_at::date, " + _DUE + "::date]"
# The (mailbox, day) pairs of the due rows in transition table {t}: the due day, and the
# wait's answer day (its message may be gone already: a delete cascading from it).
_DUE_DAYS = ("SELECT d.account_id, d.due_at::date AS day FROM {t} d UNION ALL "
             "SELECT m.account_id, m.ck_answered_at::date FROM {t} d JOIN maildesk_message m ON m.id = d.message_id")
_COUNTED = "({r}.ck_kind IN ('in', 'out') OR {r}.ck_wait_start)"
# Marks are deduplicated within the writing transaction only: skipping a pair because another
# transaction marked it could lose the change if a fold took that mark before this one commits.
_NEW_MARK = ("NOT EXISTS (SELECT 1 FROM maildesk_cockpit_rollup_dirty x WHERE x.account_id = {acc} "
             "AND x.day = {day} AND x.txid = txid_current())")


def _changed(cols):
    return f"({', '.join('OLD.' + c for c in cols)}) IS DISTINCT FROM ({', '.join('NEW.' + c for c in cols)})"


# Row triggers, fired only for the rows that matter (WHEN, evaluated without calling the
# function; UPDATE OF: only statements writing those columns): reading a mail or a flag costs
# nothing. (Statement triggers with transition tables copied every updated row, bodies included.)
FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION maildesk_ck_rollup_mark(acc int, days date[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE d date;
BEGIN
    IF acc IS NULL THEN RETURN; END IF;
    FOREACH d IN ARRAY days LOOP
        IF d IS NOT NULL AND {_NEW_MARK.format(acc="acc", day="d")} THEN
            INSERT INTO maildesk_cockpit_rollup_dirty (account_id, day) VALUES (acc, d);
        END IF;
    END LOOP;
END $$;
CREATE OR REPLACE FUNCTION maildesk_ck_rollup_msg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND {_COUNTED.format(r="OLD")} THEN
        PERFORM maildesk_ck_rollup_mark(OLD.account_id, {_DAYS.format(r="OLD")});
    END IF;
    IF TG_OP <> 'DELETE' AND {_COUNTED.format(r="NEW")} THEN
        PERFORM maildesk_ck_rollup_mark(NEW.account_id, {_DAYS.format(r="NEW")});
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION maildesk_ck_rollup_thread() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO maildesk_cockpit_rollup_dirty (account_id, day)
    SELECT DISTINCT m.account_id, d.day
      FROM maildesk_message m CROSS JOIN LATERAL unnest({_DAYS.format(r="m")}) d(day)
     WHERE m.thread_id = NEW.id AND {_COUNTED.format(r="m")} AND m.account_id IS NOT NULL AND d.day IS NOT NULL
       AND {_NEW_MARK.format(acc="m.account_id", day="d.day")};
    RETURN NULL;
END $$;
"""
TRIGGERS = (  # table, name, event, condition, function
    ("maildesk_message", "maildesk_ck_rollup_msg_ins", "INSERT", _COUNTED.format(r="NEW"), "maildesk_ck_rollup_msg"),
    ("maildesk_message", "maildesk_ck_rollup_msg_del", "DELETE", _COUNTED.format(r="OLD"), "maildesk_ck_rollup_msg"),
    ("maildesk_message", "maildesk_ck_rollup_msg_upd", f"UPDATE OF {', '.join(_MESSAGE_COLS)}",
     _changed(_MESSAGE_COLS), "maildesk_ck_rollup_msg"),
    # A conversation's insert has no messages yet; its delete sets their thread_id (a message update).
    ("maildesk_thread", "maildesk_ck_rollup_thread_upd", f"UPDATE OF {', '.join(_THREAD_COLS)}",
     _changed(_THREAD_COLS), "maildesk_ck_rollup_thread"),
)
# Due times: statement triggers (the rows are narrow), one per event, each with a function of
# its own (a function reads only the transition tables its trigger declares). A due time counts
# on its own day (overdue) and on its wait's answer day (answered late).
DUE_TRIGGERS = (  # trigger and function name, event, transition tables (FOR EACH STATEMENT on wait_due.TABLE)
    ("maildesk_ck_rollup_due_ins", "INSERT", ("new",)),
    ("maildesk_ck_rollup_due_del", "DELETE", ("old",)),
    ("maildesk_ck_rollup_due_upd", "UPDATE", ("old", "new")),
)


def _due_function(name, tables):
    days = " UNION ".join(_DUE_DAYS.format(t=f"{t}_due") for t in tables)
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO maildesk_cockpit_rollup_dirty (account_id, day)
    SELECT DISTINCT p.account_id, p.day FROM ({days}) p
     WHERE p.day IS NOT NULL AND {_NEW_MARK.format(acc="p.account_id", day="p.day")};
    RETURN NULL;
END $$;"""


def install_sql():
    """Statements creating the tables, trigger functions and triggers (idempotent)."""
    statements = [DDL, FUNCTIONS] + [_due_function(name, tables) for name, _event, tables in DUE_TRIGGERS]
    for table, name, event, condition, function in TRIGGERS:
        statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table};")
        statements.append(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW WHEN ({condition}) "
                          f"EXECUTE FUNCTION {function}();")
    for name, event, tables in DUE_TRIGGERS:
        referencing = " ".join(f"{t.upper()} TABLE AS {t}_due" for t in tables)
        statements.append(f"DROP TRIGGER IF EXISTS {name} ON {wait_due.TABLE};")
        statements.append(f"CREATE TRIGGER {name} AFTER {event} ON {wait_due.TABLE} REFERENCING {referencing} "
                          f"FOR EACH STATEMENT EXECUTE FUNCTION {name}();")
    return "\n".join(statements)


def uninstall_sql():
    """Statements removing everything ``install_sql`` created (the base tables stay)."""
    statements = [f"DROP TRIGGER IF EXISTS {name} ON {table};" for table, name, *_rest in TRIGGERS]
    statements += [f"DROP TRIGGER IF EXISTS {name} ON {wait_due.TABLE};" for name, *_rest in DUE_TRIGGERS]
    statements.append("DROP FUNCTION IF EXISTS maildesk_ck_rollup_msg(), maildesk_ck_rollup_thread(), "
                      "maildesk_ck_rollup_mark(int, date[]), "
                      + ", ".join(f"{name}()" for name, *_rest in DUE_TRIGGERS) + ";")
    statements.append("DROP TABLE IF EXISTS maildesk_cockpit_rollup, maildesk_cockpit_rollup_dirty, "
                      "maildesk_cockpit_rollup_tz;")
    return "\n".join(statements)


def history_pairs_sql():
    """Every (mailbox, UTC day) the rollup of a new time zone must cover."""
    return f"""SELECT m.account_id, d.day
                 FROM maildesk_message m CROSS JOIN LATERAL unnest(ARRAY[m.date::date, m.ck_answered_at::date]) d(day)
                WHERE {_COUNTED.format(r='m')} AND m.account_id IS NOT NULL AND d.day IS NOT NULL
                UNION
               SELECT account_id, due_at::date FROM {wait_due.TABLE}"""


# -- days and ranges -------------------------------------------------------------------------------
def local_days_of(tz, utc_day):
    """The local days (1 or 2) of ``tz`` that overlap the UTC day ``utc_day``."""
    start = datetime.combine(utc_day, datetime.min.time())
    first = bizhours.to_local_date(tz, start)
    last = bizhours.to_local_date(tz, start + timedelta(days=1) - timedelta(microseconds=1))
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def keys_of(tz, dirty):
    """``(day, account_id) -> (lo, hi)`` UTC bounds of the local days touched by dirty pairs."""
    keys = {}
    for account_id, utc_day in dirty:
        for day in local_days_of(tz, utc_day):
            if (day, account_id) not in keys:
                keys[day, account_id] = bizhours.local_day_bounds(tz, day)
    return keys


class Plan:
    """Which (mailbox, local day) a read takes from the rollup and which it counts from messages.

    Two reads: the period figures (``period``: counted messages and response times over the
    previous and the current period) and the backlog (``backlog``: wait events of the current
    days and, for its value at the period start, of every day before). The rollup rows of a
    read's days are taken unless dirty for that mailbox; ``ranges`` ``(account_id, local day,
    lo, hi, sign)`` are counted from messages and added (sign 1) or taken away (sign -1):

    - a dirty day the read needs: the whole day, or its part inside the period, added;
    - a partial day (today until now, the previous period's last day until the same hour):
      the day's rollup row minus the rest of the day (after now: normally nothing) when the
      rest is the shorter part, else the part inside, added (the day's row is not taken).
    """

    def __init__(self, period, account_ids, dirty_pairs):
        self.tz = period.tz
        n = len(period.days)
        self.first_day = period.days[0]
        self.days = list(period.days)
        prev_days = [self.first_day - timedelta(days=n - i) for i in range(n)]
        spans = [(d, bizhours.local_day_bounds(period.tz, d), period.prev_start, period.prev_end) for d in prev_days]
        spans += [(d, b, period.start, period.end) for d, b in zip(period.days, period.day_bounds)]
        self.dirty = sorted(keys_of(period.tz, dirty_pairs))  # (day, account_id)
        dirty = set(self.dirty)
        # Per read: the days whose rollup rows it takes, the (day, account) rows it skips, its ranges.
        self.reads = {"period": ([], set(dirty), []), "backlog": ([], set(dirty), [])}
        for day, (lo, hi), lo_all, hi_all in spans:
            lo_in, hi_in = max(lo, lo_all), min(hi, hi_all)
            if lo_in >= hi_in:
                continue
            reads = [self.reads["period"]] + ([self.reads["backlog"]] if day >= self.first_day else [])
            whole = (lo_in, hi_in) == (lo, hi)
            subtract = not whole and (hi - lo) - (hi_in - lo_in) < hi_in - lo_in
            for days, skip, ranges in reads:
                if whole or subtract:
                    days.append(day)
                for account_id in account_ids:
                    if (day, account_id) in dirty or not (whole or subtract):
                        ranges.append((account_id, day, lo_in, hi_in, 1))
                        skip.add((day, account_id))
                    elif subtract:
                        ranges.extend((account_id, day, a, b, -1) for a, b in ((lo, lo_in), (hi_in, hi)) if a < b)
        # The backlog's value at the period start sums every day before it: dirty ones from messages.
        self.reads["backlog"][2].extend((a, d, *bizhours.local_day_bounds(period.tz, d), 1)
                                        for d, a in self.dirty if d < self.first_day)

    def params(self, which):
        days, skip, ranges = self.reads[which]
        skip = sorted(skip)
        return {"tz": self.tz, "full_days": days, "first_day": self.first_day, "days": self.days,
                "r_acc": [r[0] for r in ranges], "r_day": [r[1] for r in ranges],
                "r_lo": [r[2] for r in ranges], "r_hi": [r[3] for r in ranges], "r_sign": [r[4] for r in ranges],
                "d_acc": [d[1] for d in skip], "d_day": [d[0] for d in skip]}


# -- SQL ---------------------------------------------------------------------------------------------
_PARTS = ("counted", "answered", "opened", "due")


def event_rows_sql(keys="k", parts=_PARTS):
    """Rows ``(day, account_id, thread_id, sign, inc, out, secs, first, opened, closed, due,
    due_closed)`` of the messages behind the keys CTE ``keys`` ``(day, acc, lo, hi, sign)``, the
    counts multiplied by the key's sign (1, or -1 for a range taken away): one row per counted
    message (part ``counted``), answered wait (``answered``), opened wait (``opened``) and due
    time (``due``) inside a key's bounds. The predicates are ``kpi.py``'s; noise and scope are
    applied by the caller on the conversation ``t``."""
    k = keys
    cols = ("{inc} * %s AS inc, {out} * %s AS out, {secs}::float8 AS secs, {first} AS first, "
            "{opened} * %s AS opened, {closed} * %s AS closed, {due} * %s AS due, {due_closed} * %s AS due_closed"
            ).replace("%s", f"{k}.sign")
    zero = {"inc": 0, "out": 0, "secs": "NULL", "first": "false", "opened": 0, "closed": 0, "due": 0, "due_closed": 0}
    # (figures, the columns read, their source, the range): a LATERAL subquery, so each key is one range scan of
    # the partial index holding exactly those columns (as a join, the planner merged whole indexes).
    sql = {
        "counted": (dict(zero, inc="(m.ck_kind = 'in')::int", out="(m.ck_kind = 'out')::int"), "m.ck_kind",
                    "maildesk_message m",
                    f"m.account_id = {k}.acc AND m.date >= {k}.lo AND m.date < {k}.hi AND m.ck_kind IN ('in', 'out')"),
        "answered": (dict(zero, secs="m.ck_reply_seconds", first="coalesce(m.ck_first, false)",
                          closed="(m.date < m.ck_answered_at)::int",
                          due_closed="coalesce(m.due_at < m.ck_answered_at, false)::int"),
                     "m.ck_reply_seconds, m.ck_first, m.date, m.ck_answered_at, d.due_at",
                     f"maildesk_message m{wait_due.join()}",
                     f"m.account_id = {k}.acc AND m.ck_wait_start AND m.ck_answered_at >= {k}.lo "
                     f"AND m.ck_answered_at < {k}.hi"),
        "opened": (dict(zero, opened=1), "m.date", "maildesk_message m",
                   f"m.account_id = {k}.acc AND m.ck_wait_start AND m.date >= {k}.lo AND m.date < {k}.hi"),
        "due": (dict(zero, due="(m.ck_answered_at IS NULL OR m.ck_answered_at > m.due_at)::int"),
                "m.ck_answered_at, d.due_at",
                f"{wait_due.TABLE} d JOIN maildesk_message m ON m.id = d.message_id",
                f"d.account_id = {k}.acc AND d.due_at >= {k}.lo AND d.due_at < {k}.hi AND m.ck_wait_start"),
    }
    return " UNION ALL ".join(
        f"SELECT {k}.day, {k}.acc AS account_id, m.thread_id, {k}.sign, {cols.format(**figures)} "
        f"FROM {k} CROSS JOIN LATERAL (SELECT m.thread_id, {read} FROM {source} "
        f"WHERE {where} OFFSET 0) m"  # OFFSET 0: not flattened into a join
        for figures, read, source, where in (sql[p] for p in parts))


_NOT_NOISE = "NOT coalesce(t.is_noise, false) AND NOT coalesce(t.ck_marked_noise, false)"


def _packed(flt):
    """The response times of the rows matching ``flt``, sorted and packed: ``i`` and int4s when
    they are all whole seconds (they are: moments have whole seconds), else ``d`` and float8s;
    half the bytes to move and unpack on every read."""
    rows = f"ev.secs IS NOT NULL AND {flt}"
    return (f"CASE WHEN bool_and(ev.secs = trunc(ev.secs) AND ev.secs >= 0 AND ev.secs < 2147483648) "
            f"FILTER (WHERE {rows}) "
            f"THEN 'i'::bytea || string_agg(int4send(ev.secs::int4), '' ORDER BY ev.secs) FILTER (WHERE {rows}) "
            f"ELSE coalesce('d'::bytea || string_agg(float8send(ev.secs), '' ORDER BY ev.secs) "
            f"FILTER (WHERE {rows}), '') END")


def recompute_sql():
    """Replace the rollup rows of the keys ``%(tz)s``, ``%(day)s[]``, ``%(acc)s[]``, ``%(lo)s[]``,
    ``%(hi)s[]`` by what the messages say now (two statements, one round trip)."""
    return f"""
        DELETE FROM maildesk_cockpit_rollup r
         USING unnest(%(day)s::date[], %(acc)s::int[]) x(day, acc)
         WHERE r.tz = %(tz)s AND r.day = x.day AND r.account_id = x.acc;
        WITH k AS (SELECT *, 1 AS sign FROM unnest(%(day)s::date[], %(acc)s::int[], %(lo)s::timestamp[],
                                                   %(hi)s::timestamp[]) AS k(day, acc, lo, hi)),
             ev AS ({event_rows_sql()})
        INSERT INTO maildesk_cockpit_rollup (tz, day, account_id, thread_account_id, company_id, team_id, user_id,
                                             incoming, outgoing, first_secs, other_secs, n_first, n_other,
                                             opened, closed, due, due_closed)
        SELECT %(tz)s, ev.day, ev.account_id, t.account_id, t.company_id, t.team_id, t.user_id, sum(ev.inc),
               sum(ev.out),
               {_packed("ev.first")}, {_packed("NOT ev.first")},
               count(*) FILTER (WHERE ev.secs IS NOT NULL AND ev.first),
               count(*) FILTER (WHERE ev.secs IS NOT NULL AND NOT ev.first),
               sum(ev.opened), sum(ev.closed), sum(ev.due), sum(ev.due_closed)
          FROM ev JOIN maildesk_thread t ON t.id = ev.thread_id
         WHERE {_NOT_NOISE}
         GROUP BY ev.day, ev.account_id, t.account_id, t.company_id, t.team_id, t.user_id;
    """


def key_params(tz, keys):
    items = sorted(keys.items())
    return {"tz": tz, "day": [k[0][0] for k in items], "acc": [k[0][1] for k in items],
            "lo": [k[1][0] for k in items], "hi": [k[1][1] for k in items]}


def fold(cr, wanted_tzs=(), batch=400):
    """Recompute the dirty days of every built time zone and build the ``wanted_tzs`` not built
    yet. Returns ``{"dirty": n pairs, "keys": n keys recomputed, "built": [tz...]}``, or None when
    another fold is running. ``cr`` is a DB-API cursor inside the caller's transaction."""
    cr.execute("SELECT pg_try_advisory_xact_lock(%s)", (FOLD_LOCK,))
    if not cr.fetchone()[0]:
        return None
    cr.execute("SELECT tz FROM maildesk_cockpit_rollup_tz")
    built = [row[0] for row in cr.fetchall()]
    cr.execute("DELETE FROM maildesk_cockpit_rollup_dirty RETURNING account_id, day")
    dirty = set(cr.fetchall())
    n_keys = 0
    for tz in built:
        n_keys += _recompute(cr, tz, keys_of(tz, dirty), batch)
    new = sorted(set(wanted_tzs) - set(built))
    if new:
        cr.execute(history_pairs_sql())
        history = cr.fetchall()
        for tz in new:
            n_keys += _recompute(cr, tz, keys_of(tz, history), batch)
            cr.execute("INSERT INTO maildesk_cockpit_rollup_tz (tz, built_at) VALUES (%s, now() AT TIME ZONE 'UTC')",
                       (tz,))
        # Statistics now rather than at autovacuum's next pass: without them the first reads of
        # a new time zone are planned for an empty table.
        cr.execute("ANALYZE maildesk_cockpit_rollup")
    return {"dirty": len(dirty), "keys": n_keys, "built": new}


def _recompute(cr, tz, keys, batch):
    items = sorted(keys.items())
    for i in range(0, len(items), batch):
        cr.execute(recompute_sql(), key_params(tz, dict(items[i:i + batch])))
    return len(items)


# -- reads: the rows kpi.py's raw queries return, from the rollup plus the ranges ----------------------
def rollup_scope(scope):
    """``kpi.scope_filter`` on rollup rows ``r`` (noise is never in the rollup; no customer filter:
    the caller counts a customer's figures from the messages)."""
    sql = ["r.account_id = ANY(%(account_ids)s)", "r.thread_account_id = ANY(%(account_ids)s)",
           "r.company_id = ANY(%(company_ids)s)"]
    if scope.team_id:
        sql.append("r.team_id = %(team_id)s")
    if scope.user_id == kpi.UNASSIGNED:
        sql.append("r.user_id IS NULL")
    elif scope.user_id:
        sql.append("r.user_id = %(user_id)s")
    return " AND ".join(sql)


_CLEAN = ("NOT EXISTS (SELECT 1 FROM unnest(%(d_acc)s::int[], %(d_day)s::date[]) x(acc, day) "
          "WHERE x.acc = r.account_id AND x.day = r.day)")
_KEYS = ("k AS (SELECT * FROM unnest(%(r_day)s::date[], %(r_acc)s::int[], %(r_lo)s::timestamp[], "
         "%(r_hi)s::timestamp[], %(r_sign)s::int[]) AS k(day, acc, lo, hi, sign))")
_DAY_INDEX = "CASE WHEN {d} >= %(first_day)s THEN array_position(%(days)s::date[], {d}) ELSE 0 END"


def _read(scope, plan, which, rollup_cols, event_cols, parts, rollup_filter="true"):
    """``WITH k, src``: the rollup rows of the plan's clean days and the counted rows of its ranges,
    both narrowed to ``scope``; ``src`` has ``day, account_id, user_id`` and the given columns."""
    where, params = kpi.scope_filter(scope)
    params.update(plan.params(which))
    days = "r.day = ANY(%(full_days)s::date[])"
    if which == "backlog":
        days = f"(r.day < %(first_day)s OR {days})"
    sql = f"""WITH {_KEYS},
        ev AS ({event_rows_sql(parts=parts)}),
        src AS (
            SELECT r.day, r.thread_account_id AS account_id, r.user_id, {rollup_cols}
              FROM maildesk_cockpit_rollup r
             WHERE r.tz = %(tz)s AND {days} AND {rollup_scope(scope)} AND {_CLEAN} AND {rollup_filter}
            UNION ALL
            -- One index probe per live row (OFFSET 0 keeps the subquery from being flattened): a
            -- planner that misjudged the live rows hashed all 200,000 conversations (150 ms at 1M).
            SELECT ev.day, t.account_id, t.user_id, {event_cols}
              FROM ev CROSS JOIN LATERAL (SELECT t.account_id, t.user_id FROM maildesk_thread t
                                           WHERE t.id = ev.thread_id AND {where} OFFSET 0) t)"""
    return sql, params


def messages_summary_sql(scope, plan):
    """``kpi.messages_summary_sql``'s rows, from the rollup."""
    sql, params = _read(scope, plan, "period", "r.incoming AS inc, r.outgoing AS out", "ev.inc, ev.out",
                        ("counted",), rollup_filter="r.incoming + r.outgoing > 0")
    day = _DAY_INDEX.format(d="day")
    cur = "day >= %(first_day)s"
    return (f"{sql} SELECT GROUPING({day}, account_id, user_id), {day}, account_id, user_id, "
            f"coalesce(sum(inc) FILTER (WHERE {cur}), 0), coalesce(sum(out) FILTER (WHERE {cur}), 0), "
            f"coalesce(sum(inc) FILTER (WHERE NOT {cur}), 0), coalesce(sum(out) FILTER (WHERE NOT {cur}), 0) "
            f"FROM src GROUP BY GROUPING SETS (({day}), (account_id), (user_id)) "
            f"HAVING sum(inc) <> 0 OR sum(out) <> 0"), params  # a day's row minus all of it: nothing


# How many numbers a group's packed strings hold (each: a tag byte, then int4s or float8s).
_N_PACKED = "sum((length(secs) - 1) / CASE substr(secs, 1, 1) WHEN 'i' THEN 4 ELSE 8 END)"


def duration_rows(cr, scope, plan):
    """``kpi.durations_sql``'s rows from the rollup's packed response times and the ranges'
    messages, the order statistics computed here (``stats.percentile_sorted`` is
    ``percentile_cont``): moving the numbers once beats PostgreSQL's sort per aggregate and
    grouping set. Per mailbox and per person only the current period's first responses are
    computed (all the breakdown shows); the other figures of those rows are None."""
    sql, params = _read(scope, plan, "period", "r.first_secs, r.other_secs, 0 AS sign, NULL::bool AS first, "
                        "NULL::float8 AS secs", "NULL::bytea, NULL::bytea, ev.sign, ev.first, ev.secs", ("answered",))
    # Packed numbers are concatenated in SQL per day and per mailbox / person (current first
    # responses) and come as base64: a few hundred large strings instead of a row per rollup row
    # (psycopg2's date and bytea casts and the Python loop were most of the time).
    cr.execute(f"""{sql},
        packed AS (SELECT day - %(first_day)s::date AS offset_, account_id, user_id, first_secs, other_secs
                     FROM src WHERE sign = 0),
        parts AS (SELECT offset_, account_id, user_id, true AS first, first_secs AS secs FROM packed
                  UNION ALL SELECT offset_, account_id, user_id, false, other_secs FROM packed)
        SELECT 'day', offset_, first, substr(secs, 1, 1), encode(string_agg(substr(secs, 2), ''), 'base64'),
               NULL::int, NULL::int, NULL::int, NULL::float8, NULL::bigint
          FROM parts WHERE length(secs) > 0 GROUP BY offset_, first, substr(secs, 1, 1)
        UNION ALL
        SELECT 'account', account_id, NULL, substr(secs, 1, 1),
               encode(string_agg(substr(secs, 2), '') FILTER (WHERE first AND offset_ >= 0), 'base64'),
               NULL, NULL, NULL, NULL, {_N_PACKED}
          FROM parts WHERE length(secs) > 0 GROUP BY account_id, substr(secs, 1, 1)
        UNION ALL
        SELECT 'user', user_id, NULL, substr(secs, 1, 1),
               encode(string_agg(substr(secs, 2), '') FILTER (WHERE first AND offset_ >= 0), 'base64'),
               NULL, NULL, NULL, NULL, {_N_PACKED}
          FROM parts WHERE length(secs) > 0 GROUP BY user_id, substr(secs, 1, 1)
        UNION ALL
        SELECT 'range', day - %(first_day)s::date, first, NULL, NULL, account_id, user_id, sign, secs, NULL
          FROM src WHERE sign <> 0 AND secs IS NOT NULL
    """, params)
    leaves = {}  # (day offset, first) -> seconds; (account | user, key) -> current first responses
    waits = {}  # (account | user, key) -> waits of either period: a row only while some remain
    ranges = []
    for kind, key, first, tag, b64, account_id, user_id, sign, secs, n_packed in cr.fetchall():
        if kind == "range":
            ranges.append((key, account_id, user_id, sign, first, secs))
            continue
        leaves.setdefault((key, first) if kind == "day" else (kind, key), []).extend(_unpack(tag, b64))
        if n_packed:
            waits[(kind, key)] = waits.get((kind, key), 0) + n_packed
    taken = []
    for offset, account_id, user_id, sign, first, secs in ranges:
        for key in (("account", account_id), ("user", user_id)):
            waits[key] = waits.get(key, 0) + sign
        if sign < 0:
            taken.append((offset, account_id, user_id, first, secs))
            continue
        leaves.setdefault((offset, first), []).append(secs)
        # Every mailbox and person with a wait in either period gets a breakdown row.
        by_account = leaves.setdefault(("account", account_id), [])
        by_user = leaves.setdefault(("user", user_id), [])
        if first and offset >= 0:
            by_account.append(secs)
            by_user.append(secs)
    for offset, account_id, user_id, first, secs in taken:  # the rest of a partial day, taken away
        keys = [(offset, first)] + ([("account", account_id), ("user", user_id)] if first and offset >= 0 else [])
        for key in keys:
            leaves[key].remove(secs)
    for key, n in waits.items():  # only waits after the period's end made this row (today's rest)
        if n <= 0:
            leaves.pop(key, None)
    return _duration_sets(leaves)


def _unpack(tag, b64):
    """The seconds ``_packed`` wrote after its tag: ``i``: big-endian int4s, ``d``: float8s."""
    blob = binascii.a2b_base64(b64) if b64 else b""
    if not blob:
        return ()
    data = array("i" if bytes(tag) == b"i" else "d")
    data.frombytes(blob)
    if sys.byteorder == "little":
        data.byteswap()
    return data


def _duration_sets(leaves):
    """Rows of ``kpi.DURATION_SETS`` (see ``kpi.durations_sql``) from ``duration_rows``' leaves."""
    codes = {name: code for code, name in kpi.DURATION_SETS.items()}
    none = (None, None, None, 0)
    rows = []
    totals = {True: ([], []), False: ([], [])}  # current -> (first responses, all)
    for offset in sorted({k[0] for k in leaves if isinstance(k[0], int)}):
        first = sorted(leaves.get((offset, True), ()))
        everything = sorted(first + leaves.get((offset, False), []))
        total = totals[offset >= 0]
        total[0].extend(first)  # sorted runs: the totals' sort below merges them
        total[1].extend(everything)
        if offset >= 0 and everything:
            figures = _order_stats(first, True) + _order_stats(everything, True)
            rows.append((codes["day"], True, offset + 1, None, None) + figures + figures[:4])
    for current, (first, everything) in totals.items():
        if everything:
            figures = _order_stats(first) + _order_stats(everything)
            rows.append((codes["total"], current, None, None, None) + figures + (figures[:4] if current else none))
            if not current:  # the previous period's days, all in day 0 (the dashboard skips them)
                rows.append((codes["day"], False, 0, None, None) + figures + none)
    unused = (None, None, None, None) * 2
    for (kind, key), values in leaves.items():
        if kind in ("account", "user"):
            head = [codes[kind], None, None, None, None]
            head[3 if kind == "account" else 4] = key
            rows.append(tuple(head) + unused + _order_stats(values))
    return rows


def _order_stats(data, is_sorted=False):
    """Median, p90, mean, count as ``percentile_cont`` / ``avg`` / ``count`` give them."""
    if not data:
        return None, None, None, 0
    data = data if is_sorted else sorted(data)
    return (stats.percentile_sorted(data, 0.5), stats.percentile_sorted(data, 0.9), sum(data) / len(data),
            len(data))


def backlog_history_sql(scope, plan):
    """Per day index (0: every day before the period): waits opened, closed, overdue, closed late.
    ``backlog_events`` turns the rows into ``kpi.backlog_history_sql``'s events."""
    sql, params = _read(scope, plan, "backlog", "r.opened, r.closed, r.due, r.due_closed",
                        "ev.opened, ev.closed, ev.due, ev.due_closed", ("answered", "opened", "due"))
    day = _DAY_INDEX.format(d="day")
    return (f"{sql} SELECT {day}, sum(opened), sum(closed), sum(due), sum(due_closed) FROM src "
            f"GROUP BY 1"), params


def backlog_events(rows):
    """``(event, day index, n)`` as ``kpi.backlog_history_sql`` returns them."""
    events = []
    for day, opened, closed, due, due_closed in rows:
        if not day:
            events += [("base_open", None, opened - closed), ("base_overdue", None, due - due_closed)]
        else:
            events += [("open", day, opened), ("close", day, closed), ("due", day, due), ("due_close", day, due_closed)]
    return events


def count_sql(kpi_name, scope, plan):
    """The current period's count of a message or gap KPI: the same number as its card
    (``kpi.count_sql`` counts the same rows from the messages alone)."""
    if kpi_name in kpi.MESSAGE_KPIS:
        column = "inc" if kpi_name == "incoming" else "out"
        sql, params = _read(scope, plan, "period", f"r.{'incoming' if column == 'inc' else 'outgoing'} AS n",
                            f"ev.{column}", ("counted",))
    elif kpi_name in kpi.GAP_KPIS:
        stored = "r.n_first" if kpi_name == "first_response" else "r.n_first + r.n_other"
        counted = "ev.first" if kpi_name == "first_response" else "true"
        sql, params = _read(scope, plan, "period", f"{stored} AS n",
                            f"CASE WHEN ev.secs IS NOT NULL AND {counted} THEN ev.sign ELSE 0 END", ("answered",))
    else:
        raise ValueError(f"{kpi_name} is counted from the conversations, not the rollup")
    return f"{sql} SELECT coalesce(sum(n) FILTER (WHERE day >= %(first_day)s), 0) FROM src", params
