"""The KPI rollup (engine/rollup.py) on a real PostgreSQL: for random conversations, random
changes and several time zones (a DST change, a half-hour offset), every read from the rollup
equals the same read from the messages (engine/kpi.py), before and after the fold."""
import random
from datetime import datetime, timedelta

import pytest

from harness.postgres import scratch_database
from maildesk_mail_client_cockpit.engine import kpi, periods, rollup, wait_due

psycopg2 = pytest.importorskip("psycopg2")

SCHEMA = """
CREATE TABLE maildesk_thread (
    id serial PRIMARY KEY, account_id int, company_id int, team_id int, user_id int, ck_partner_id int,
    is_noise bool DEFAULT false, ck_marked_noise bool DEFAULT false, conversation_state varchar,
    ck_wait_since timestamp, sla_due_at timestamp);
CREATE TABLE maildesk_message (
    id serial PRIMARY KEY, account_id int, thread_id int REFERENCES maildesk_thread ON DELETE SET NULL,
    date timestamp, ck_kind varchar, ck_wait_start bool, ck_first bool, ck_answered_at timestamp,
    ck_reply_seconds float8);
CREATE INDEX ON maildesk_message (thread_id);
CREATE INDEX ON maildesk_message (account_id, date) WHERE ck_kind IN ('in', 'out');
CREATE INDEX ON maildesk_message (account_id, ck_answered_at) WHERE ck_wait_start;
CREATE INDEX ON maildesk_message (account_id, date) WHERE ck_wait_start;
"""
NOW = datetime(2026, 3, 30, 10, 17)  # the day after Europe's DST change
ACCOUNTS, COMPANY = (1, 2, 3), 1
TZS = ("UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York")


@pytest.fixture(scope="module")
def db():
    with scratch_database("maildesk_rollup") as conn:
        yield conn


def seed(cr, rng, threads=120):
    cr.execute(SCHEMA + wait_due.DDL + rollup.install_sql())
    for _ in range(threads):
        account = rng.choice(ACCOUNTS)
        cr.execute("INSERT INTO maildesk_thread (account_id, company_id, team_id, user_id, ck_partner_id, is_noise, "
                   "conversation_state) VALUES (%s, %s, %s, %s, %s, %s, 'waiting_for_us') RETURNING id",
                   (account, COMPANY, account % 2 + 1, rng.choice([None, 10, 11, 12]), rng.choice([100, 101]),
                    rng.random() < 0.05))
        thread_id = cr.fetchone()[0]
        when = NOW - timedelta(days=rng.uniform(0, 70))
        for i in range(rng.randint(1, 6)):
            add_message(cr, rng, thread_id, account, when, incoming=i % 2 == 0)
            when += timedelta(hours=rng.expovariate(1 / 20))


def add_message(cr, rng, thread_id, account, when, incoming=True):
    answered = when + timedelta(hours=rng.expovariate(1 / 15)) if rng.random() < 0.7 else None
    wait = incoming and rng.random() < 0.8
    cr.execute(
        "INSERT INTO maildesk_message (account_id, thread_id, date) VALUES (%s, %s, %s) RETURNING id",
        (account, thread_id, when))
    message_id = cr.fetchone()[0]
    # Facts come in a second statement, as at ingest (the cockpit computes them after the insert).
    cr.execute("""UPDATE maildesk_message SET ck_kind = %s, ck_wait_start = %s, ck_first = %s, ck_answered_at = %s,
                  ck_reply_seconds = %s WHERE id = %s""",
               (rng.choice(["in", "in", "auto", "internal"]) if incoming else "out", wait,
                wait and rng.random() < 0.5, answered if wait else None,
                seconds(rng) if wait and answered else None, message_id))
    if wait:  # and its due time, as the SLA evaluation writes it
        cr.execute(wait_due.upsert_sql(), ([message_id], [when + timedelta(hours=rng.choice([2, 8, 30]))]))


def seconds(rng):
    """Business seconds: whole (as the engine computes them: int4-packed) or not (float8-packed)."""
    value = rng.uniform(60, 90000)
    return float(int(value)) if rng.random() < 0.7 else value


def raw(cr, scope, period):
    out = {}
    cr.execute(*kpi.messages_summary_sql(scope, period))
    out["messages"] = normal(cr.fetchall())
    cr.execute(*kpi.durations_sql(scope, period))
    out["durations"] = normal(shown(cr.fetchall()))
    cr.execute(*kpi.backlog_history_sql(scope, period))
    out["backlog"] = backlog(cr.fetchall(), period)
    for name in kpi.MESSAGE_KPIS + kpi.GAP_KPIS:  # the drill-down's total
        cr.execute(*kpi.count_sql(name, scope, period.start, period.end, NOW))
        out[name] = cr.fetchone()[0]
    return out


def from_rollup(cr, scope, period):
    cr.execute("SELECT DISTINCT account_id, day FROM maildesk_cockpit_rollup_dirty")
    plan = rollup.Plan(period, scope.account_ids, cr.fetchall())
    out = {}
    cr.execute(*rollup.messages_summary_sql(scope, plan))
    out["messages"] = normal(cr.fetchall())
    out["durations"] = normal(shown(rollup.duration_rows(cr, scope, plan)))
    cr.execute(*rollup.backlog_history_sql(scope, plan))
    out["backlog"] = backlog(rollup.backlog_events(cr.fetchall()), period)
    for name in kpi.MESSAGE_KPIS + kpi.GAP_KPIS:
        cr.execute(*rollup.count_sql(name, scope, plan))
        out[name] = cr.fetchone()[0]
    return out


def shown(rows):
    """Per mailbox and per person the dashboard shows the current first-response figures only."""
    breakdown = {code for code, name in kpi.DURATION_SETS.items() if name in ("account", "user")}
    return [row[:5] + (None,) * 8 + row[13:] if row[0] in breakdown else row for row in rows]


def normal(rows):
    rows = [tuple(round(v, 4) if isinstance(v, float) else v for v in row) for row in rows]
    return sorted(rows, key=lambda row: [(v is None, v if v is not None else 0) for v in row])


def backlog(events, period):
    days = list(period.days)
    return kpi.backlog_series([(e, kpi.day_of(period, d), n) for e, d, n in events], days)


def scopes():
    yield kpi.Scope(account_ids=ACCOUNTS, company_ids=(COMPANY,))
    yield kpi.Scope(account_ids=(1, 3), company_ids=(COMPANY,), team_id=2)
    yield kpi.Scope(account_ids=ACCOUNTS, company_ids=(COMPANY,), user_id=kpi.UNASSIGNED)
    yield kpi.Scope(account_ids=(2,), company_ids=(COMPANY,), user_id=11)


def check_all(cr):
    for tz in TZS:
        for kind, extra in (("today", {}), ("7d", {}), ("30d", {}),
                            ("custom", {"date_from": "2026-02-20", "date_to": "2026-03-29"})):
            period = periods.resolve(kind, NOW, tz, **extra)
            for scope in scopes():
                assert from_rollup(cr, scope, period) == raw(cr, scope, period), (tz, kind, scope)


def test_rollup_equals_messages_through_changes_and_folds(db):
    rng = random.Random(11)
    with db.cursor() as cr:
        seed(cr, rng)
        assert rollup.fold(cr, TZS)["built"] == sorted(TZS)
        cr.execute("SELECT count(*) FROM maildesk_cockpit_rollup_dirty")
        assert cr.fetchone()[0] == 0
        check_all(cr)
        # Changes through every path the triggers watch; the dirty days are read from the messages.
        cr.execute("UPDATE maildesk_thread SET user_id = 12 WHERE id % 7 = 0")
        cr.execute("UPDATE maildesk_thread SET ck_marked_noise = true WHERE id % 11 = 0")
        cr.execute("UPDATE maildesk_thread SET team_id = 3 - team_id WHERE id % 13 = 0")
        cr.execute(f"UPDATE {wait_due.TABLE} SET due_at = due_at + interval '20 hours' WHERE message_id % 5 = 0")
        cr.execute(f"DELETE FROM {wait_due.TABLE} WHERE message_id % 29 = 0")  # a wait losing its due time
        cr.execute("UPDATE maildesk_message SET ck_kind = 'out' WHERE id % 17 = 0")
        cr.execute(f"SELECT count(*) FROM {wait_due.TABLE} WHERE message_id % 19 = 0")
        assert cr.fetchone()[0] > 0
        cr.execute("DELETE FROM maildesk_message WHERE id % 19 = 0")
        cr.execute(f"SELECT count(*) FROM {wait_due.TABLE} d LEFT JOIN maildesk_message m ON m.id = d.message_id "
                   "WHERE m.id IS NULL")
        assert cr.fetchone()[0] == 0  # a message's due time goes with it
        cr.execute("DELETE FROM maildesk_thread WHERE id % 23 = 0")  # messages keep living, without a thread
        add_message(cr, rng, 1, 1, NOW - timedelta(days=40))  # late mail on an old day
        add_message(cr, rng, 2, 2, NOW - timedelta(minutes=5))
        cr.execute("SELECT count(*) FROM maildesk_cockpit_rollup_dirty")
        assert cr.fetchone()[0] > 0
        check_all(cr)
        assert rollup.fold(cr, TZS)["keys"] > 0
        check_all(cr)
        # An unchanged update marks nothing.
        cr.execute("UPDATE maildesk_thread SET user_id = user_id")
        cr.execute("UPDATE maildesk_message SET date = date")
        cr.execute("SELECT count(*) FROM maildesk_cockpit_rollup_dirty")
        assert cr.fetchone()[0] == 0
        cr.execute(rollup.uninstall_sql() + wait_due.UNINSTALL)
        cr.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'maildesk_ck_%%'")
        assert cr.fetchone()[0] == 0


def test_plan_splits_whole_partial_and_dirty_days():
    tz = "Europe/Berlin"
    period = periods.resolve("7d", NOW, tz)  # 12:17 in Berlin: the rest of today is the shorter part
    dirty_day = NOW.date() - timedelta(days=3)
    plan = rollup.Plan(period, (1, 2), [(1, dirty_day)])
    days, skip, ranges = plan.reads["period"]
    today, bounds = period.days[-1], rollup.bizhours.local_day_bounds(tz, period.days[-1])
    # Whole days and today from the rollup, minus the rest of today; the previous period's last
    # day runs until 11:17 (the DST day made this period an hour shorter): counted directly.
    assert len(days) == 13 and today in days
    assert (2, today, NOW, bounds[1], -1) in ranges
    last_prev = period.days[0] - timedelta(days=1)
    assert last_prev not in days and (2, last_prev, rollup.bizhours.local_day_bounds(tz, last_prev)[0],
                                      period.prev_end, 1) in ranges
    # The dirty UTC day touches two Berlin days: both counted from messages for mailbox 1 only.
    dirty_days = rollup.local_days_of(tz, dirty_day)
    assert len(dirty_days) == 2 and {(d, 1) for d in dirty_days} <= skip and not {(d, 2) for d in dirty_days} & skip
    assert all((1, d, *rollup.bizhours.local_day_bounds(tz, d), 1) in ranges for d in dirty_days)
    # The backlog reads the current days, and every day before them for its start value.
    b_days, b_skip, b_ranges = plan.reads["backlog"]
    assert b_days == list(period.days)
    early = rollup.Plan(periods.resolve("today", NOW.replace(hour=3), tz), (1,), [(1, dirty_day)])
    e_days, _skip, e_ranges = early.reads["period"]
    assert e_days == [] and all(r[4] == 1 for r in e_ranges)  # 04:00 in Berlin: the morning is counted directly
    assert any(r[1] == dirty_days[0] for r in early.reads["backlog"][2])  # history for the start value
    assert list(rollup.local_days_of("Asia/Kolkata", NOW.date())) == [NOW.date(), NOW.date() + timedelta(1)]
    assert rollup.local_days_of("UTC", NOW.date()) == [NOW.date()]


def test_fold_concurrent_with_open_writers_loses_no_change(db):
    """A fold that runs while writers' transactions are open (Odoo's isolation, REPEATABLE READ)
    takes only the marks it can see: a change committed after the fold's snapshot keeps its
    mark, reads stay exact meanwhile, and the next fold brings the rollup up to date."""
    db.rollback()  # the other tests leave their work uncommitted on this connection
    rng = random.Random(23)
    iso = psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ
    writer = psycopg2.connect(dbname=db.info.dbname)
    folder = psycopg2.connect(dbname=db.info.dbname)
    writer.set_isolation_level(iso)
    folder.set_isolation_level(iso)
    try:
        with db.cursor() as cr:
            seed(cr, rng, threads=60)
            rollup.fold(cr, TZS)
        db.commit()
        with writer.cursor() as wcr, folder.cursor() as fcr:
            # The writer's first statement takes its snapshot before the fold's.
            add_message(wcr, rng, 3, 3, NOW - timedelta(days=2))
            wcr.execute(f"UPDATE {wait_due.TABLE} SET due_at = due_at + interval '30 hours' WHERE message_id IN "
                        "(SELECT id FROM maildesk_message WHERE thread_id = 4)")
            wcr.execute("UPDATE maildesk_thread SET user_id = 10 WHERE id = 5")
            # The fold cannot see those marks yet: it folds nothing and deletes no mark of them.
            assert rollup.fold(fcr, TZS)["dirty"] == 0
            writer.commit()
            # A second fold whose snapshot was taken before the commit (a long cron transaction).
            fcr.execute("SELECT 1")
            folder.commit()
            fcr.execute("SELECT count(*) FROM maildesk_cockpit_rollup_dirty")  # snapshot before the next commit
            assert fcr.fetchone()[0] > 0
            folder.commit()
        with db.cursor() as cr:
            cr.execute("SELECT count(*) FROM maildesk_cockpit_rollup_dirty")
            assert cr.fetchone()[0] > 0  # the writer's marks survived the concurrent fold
            check_all(cr)  # exact before the next fold: the marked days are read from the messages
            assert rollup.fold(cr, TZS)["keys"] > 0
            cr.execute("SELECT count(*) FROM maildesk_cockpit_rollup_dirty")
            assert cr.fetchone()[0] == 0
            check_all(cr)  # and after it, from the rollup
            # Concurrent folds: the second one backs off (advisory lock) instead of double-counting.
            with folder.cursor() as fcr:
                cr.execute("UPDATE maildesk_message SET ck_kind = 'out' WHERE id % 9 = 0")
                db.commit()
                assert rollup.fold(cr, TZS)["keys"] > 0  # holds the lock until its commit
                assert rollup.fold(fcr, TZS) is None
                db.commit()
                folder.rollback()
            check_all(cr)
    finally:
        writer.close()
        folder.close()
        with db.cursor() as cr:
            cr.execute(rollup.uninstall_sql() + f"DROP TABLE IF EXISTS {wait_due.TABLE}, maildesk_message, "
                       "maildesk_thread;")
        db.commit()
