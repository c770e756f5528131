"""SLA matching order, due times with pauses and overrides, escalation levels (engine/sla.py)."""
from datetime import date, datetime, timedelta

import pytest

from maildesk_mail_client_cockpit.engine import kpi, periods, sla
from maildesk_mail_client_cockpit.engine.bizhours import Calendar
from maildesk_mail_client_cockpit.engine.sla import Level, Policy, ThreadState

CAL = Calendar()
MON10 = datetime(2026, 3, 2, 10)


def test_first_match_wins_in_sequence_order():
    """A customer policy placed before the team policy wins; the catch-all takes the rest."""
    vip = Policy(id=1, sequence=1, partner_ids=frozenset({42}))
    team = Policy(id=2, sequence=5, team_ids=frozenset({7}))
    catch_all = Policy(id=3, sequence=9)
    policies = [catch_all, team, vip]
    assert sla.match(policies, ThreadState(id=1, team_id=7, partner_id=42)).id == 1
    assert sla.match(policies, ThreadState(id=1, team_id=7, partner_id=1)).id == 2
    assert sla.match(policies, ThreadState(id=1, team_id=8)).id == 3
    assert sla.match([team], ThreadState(id=1, team_id=8)) is None


def test_category_and_mailbox_scopes():
    p = Policy(id=1, account_ids=frozenset({3}), category_ids=frozenset({5, 6}))
    assert sla.match([p], ThreadState(id=1, account_id=3, category_ids=frozenset({6})))
    assert not sla.match([p], ThreadState(id=1, account_id=3, category_ids=frozenset({9})))
    assert not sla.match([p], ThreadState(id=1, account_id=4, category_ids=frozenset({6})))


def test_first_response_due_in_business_hours():
    """4 business hours from Friday 15:00 is Monday 11:00."""
    p = Policy(id=1, first_response_hours=4, calendar=CAL)
    t = ThreadState(id=1, wait_since=datetime(2026, 3, 6, 15), wait_first=True)
    r = sla.evaluate(p, t, datetime(2026, 3, 6, 16))
    assert r.due == datetime(2026, 3, 9, 11) and r.target_kind == "first" and r.status == "on_track"
    assert r.seconds_left == 3 * 3600


def test_next_response_target_and_statuses():
    p = Policy(id=1, first_response_hours=8, next_response_hours=2, calendar=CAL)
    t = ThreadState(id=1, wait_since=MON10, wait_first=False)
    assert sla.evaluate(p, t, MON10 + timedelta(minutes=30)).status == "on_track"
    assert sla.evaluate(p, t, MON10 + timedelta(minutes=100)).status == "at_risk"
    r = sla.evaluate(p, t, MON10 + timedelta(hours=3))
    assert r.status == "breached" and r.seconds_left == -3600 and r.due == MON10 + timedelta(hours=2)


def test_paused_while_waiting_for_customer_and_closed():
    p = Policy(id=1, first_response_hours=1)
    assert sla.evaluate(p, ThreadState(id=1, conversation_state="waiting_for_them"), MON10).status == "paused"
    assert sla.evaluate(p, ThreadState(id=1, conversation_state="closed"), MON10).status == "met"
    closed = ThreadState(id=1, conversation_state="closed", previous_status="breached")
    assert sla.evaluate(p, closed, MON10).status == "breached"


def test_resolution_counts_only_time_we_owed():
    """8 h resolution with 6 h already spent in answered gaps leaves 2 h for the open gap."""
    p = Policy(id=1, next_response_hours=4, resolution_hours=8, calendar=CAL)
    t = ThreadState(id=1, wait_since=MON10, segment_consumed=6 * 3600)
    r = sla.evaluate(p, t, MON10)
    assert r.due == MON10 + timedelta(hours=2) and r.target_kind == "resolution"


def test_override_replaces_the_due_time():
    p = Policy(id=1, first_response_hours=1, calendar=CAL)
    t = ThreadState(id=1, wait_since=MON10, wait_first=True, override_due=MON10 + timedelta(days=1))
    r = sla.evaluate(p, t, MON10 + timedelta(hours=2))
    assert r.target_kind == "override" and r.status == "on_track"


def test_no_policy_no_state():
    assert sla.evaluate(None, ThreadState(id=1, wait_since=MON10), MON10).status == "none"


def test_escalation_levels_relative_to_due():
    """80 % -> assignee, breach -> leader, breach + 2 h -> manager (business hours)."""
    p = Policy(id=1, first_response_hours=5, calendar=CAL)
    t = ThreadState(id=1, wait_since=MON10, wait_first=True)  # due 15:00
    levels = [Level(id=1, sequence=1, percent=80), Level(id=2, sequence=2, minutes=0),
              Level(id=3, sequence=3, minutes=120)]

    def fired(now):
        return [lv.id for lv in sla.due_levels(levels, sla.evaluate(p, t, now), now, CAL)]

    assert fired(MON10 + timedelta(hours=3, minutes=59)) == []
    assert fired(MON10 + timedelta(hours=4)) == [1]
    assert fired(MON10 + timedelta(hours=5)) == [1, 2]
    # breach + 2 business hours: 15:00 + 2 h = 17:00 Monday
    assert fired(datetime(2026, 3, 2, 16, 59)) == [1, 2]
    assert fired(datetime(2026, 3, 2, 17)) == [1, 2, 3]


def test_escalation_after_hours_waits_for_business_time():
    """Due 16:00; breach + 2 h lands on Tuesday 10:00, not Monday 18:00."""
    p = Policy(id=1, first_response_hours=6, calendar=CAL)
    r = sla.evaluate(p, ThreadState(id=1, wait_since=MON10, wait_first=True), datetime(2026, 3, 2, 18))
    assert sla.level_moment(Level(id=3, minutes=120), r, CAL) == datetime(2026, 3, 3, 10)


def test_periods_previous_equal_and_local_days():
    now = datetime(2026, 3, 30, 9, 30)  # Berlin 11:30 CEST
    p = periods.resolve("7d", now, "Europe/Berlin")
    assert p.days[0] == date(2026, 3, 24) and p.days[-1] == date(2026, 3, 30) and p.end == now
    assert p.start == datetime(2026, 3, 23, 23) and p.prev_start == datetime(2026, 3, 16, 23)
    today = periods.resolve("today", now, "Europe/Berlin")
    assert today.prev_end - today.prev_start == today.end - today.start
    with pytest.raises(ValueError, match="before its start"):
        periods.resolve("custom", now, "UTC", "2026-03-05", "2026-03-01")
    with pytest.raises(ValueError, match="Unknown period"):
        periods.resolve("year", now)


def test_card_and_drill_down_share_the_predicate():
    """count_sql and page_sql wrap the very same rows_sql."""
    scope = kpi.Scope(account_ids=(1, 2), company_ids=(1,), team_id=3, user_id=kpi.UNASSIGNED)
    rows, params = kpi.rows_sql("overdue", scope, MON10, MON10, MON10)
    count, _ = kpi.count_sql("overdue", scope, MON10, MON10, MON10)
    page, _ = kpi.page_sql("overdue", scope, MON10, MON10, MON10, 50, 0)
    assert rows in count and rows in page and "t.user_id IS NULL" in rows and params["team_id"] == 3
    with pytest.raises(ValueError, match="Unknown KPI"):
        kpi.rows_sql("bogus", scope, MON10, MON10, MON10)


def test_backlog_series_folds_events():
    d1, d2 = date(2026, 3, 2), date(2026, 3, 3)
    rows = [("base_open", None, 5), ("base_overdue", None, 1), ("open", d1, 3), ("close", d1, 2),
            ("due", d2, 2), ("close", d2, 1), ("due_close", d2, 1)]
    assert kpi.backlog_series(rows, [d1, d2]) == ([6, 5], [1, 2], 5, 1)


def test_levels_before_the_policy_existed_do_not_fire():
    """A policy created today does not escalate last week's waits for moments already past."""
    p = Policy(id=1, first_response_hours=1, calendar=CAL)
    r = sla.evaluate(p, ThreadState(id=1, wait_since=MON10, wait_first=True), MON10 + timedelta(days=2))
    levels = [Level(id=1, percent=80), Level(id=2, minutes=0)]
    assert [lv.id for lv in sla.due_levels(levels, r, MON10 + timedelta(days=2), CAL)] == [1, 2]
    assert sla.due_levels(levels, r, MON10 + timedelta(days=2), CAL, not_before=MON10 + timedelta(days=1)) == []
