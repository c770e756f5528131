"""Batched alert evaluation (engine/alert_batch.py): one query per row source, folded per rule."""
from datetime import datetime, timedelta

import pytest

from maildesk_mail_client_cockpit.engine import alert_batch as ab
from maildesk_mail_client_cockpit.engine import alerts, kpi

NOW = datetime(2026, 3, 4, 12, 0)
SCOPE = kpi.Scope(account_ids=(1, 2), company_ids=(1,))
H = timedelta(hours=1)


def test_threads_are_counted_per_rule_from_shared_buckets():
    """Each rule adds up the buckets of its mailbox / team / customer; one row set feeds all."""
    rows = {"threads": [(1, 10, None, 5, 4, 2), (2, 10, None, 3, 3, 1), (2, 20, 77, 1, 1, 1)]}
    watches = [ab.Watch(1, "overdue"), ab.Watch(2, "waiting", account_id=2), ab.Watch(3, "needs_reply", team_id=10),
               ab.Watch(4, "overdue", partner_id=77)]
    got = ab.fold(watches, rows)
    assert {k: o.value for k, o in got.items()} == {(1, None): 4, (2, None): 4, (3, None): 7, (4, None): 1}


def test_split_per_mailbox_gives_one_instance_per_mailbox_even_without_rows():
    """A mailbox without any row is an instance at 0 (so a firing one resolves)."""
    rows = {"threads": [(1, 10, None, 5, 4, 2)]}
    got = ab.fold([ab.Watch(1, "overdue", split_accounts=(1, 2))], rows)
    assert got[1, 1].value == 2 and got[1, 2].value == 0


def test_message_windows_share_one_scan():
    """Two windows are two FILTER column pairs of the same query, in windows_of order."""
    watches = [ab.Watch(1, "incoming", window=H), ab.Watch(2, "outgoing", window=24 * H)]
    sql, params = ab.queries(watches, SCOPE, NOW)["messages"]
    assert sql.count("count(*) FILTER") == 4 and params["scan_start"] == NOW - 24 * H
    assert params["start_0"] == NOW - H and params["start_1"] == NOW - 24 * H
    rows = {"messages": [(1, None, None, 3, 1, 9, 6), (2, None, None, 1, 0, 2, 2)]}
    got = ab.fold(watches, rows)
    assert got[1, None].value == 4 and got[2, None].value == 8


def test_gap_kpis_are_the_mean_in_minutes_and_no_data_without_gaps():
    """Durations add sums and counts across buckets; nothing answered in the window is no data."""
    watches = [ab.Watch(1, "response_time", window=H), ab.Watch(2, "first_response", window=H, account_id=3)]
    rows = {"gaps": [(1, None, None, 600, 1, 1200, 2), (2, None, None, 0, 0, 2400, 2)]}
    got = ab.fold(watches, rows)
    assert got[1, None].value == pytest.approx(15.0)  # (1200 + 2400) s over 4 gaps = 900 s
    assert got[2, None].value is None and got[2, None].feed is None


def test_anomaly_compares_the_last_day_with_the_same_day_of_previous_weeks():
    """A jump against a steady same-weekday baseline is flagged; the count is kept as the value."""
    rows = {"anomaly": [(1, None, None, 0, 60, 5)] + [(1, None, None, k, 10 + k % 2, 5) for k in range(1, 9)]}
    got = ab.fold([ab.Watch(1, "incoming", mode="anomaly", direction="up")], rows)
    obs = got[1, None]
    assert obs.verdict is True and obs.value == 60 and obs.score.level == "anomaly" and obs.feed is True


def test_anomaly_weeks_without_any_mail_are_missing_history_not_zeros():
    """A scope with two weeks of history is insufficient (needs 3), never flagged."""
    rows = {"anomaly": [(1, None, None, 0, 60, 0), (1, None, None, 1, 10, 0), (1, None, None, 2, 10, 0)]}
    obs = ab.fold([ab.Watch(1, "incoming", mode="anomaly")], rows)[1, None]
    assert obs.verdict is False and obs.score.level == "insufficient"


def test_anomaly_ranges_are_week_aligned_days_and_the_sql_reads_only_them():
    ranges = ab.anomaly_ranges(NOW, weeks=2)
    assert ranges == [(NOW - 24 * H, NOW), (NOW - timedelta(days=8), NOW - timedelta(days=7)),
                      (NOW - timedelta(days=15), NOW - timedelta(days=14))]
    sql, params = ab.anomaly_sql(SCOPE, set(), NOW, weeks=2)
    assert "unnest(%(a_starts)s::timestamp[], %(a_ends)s::timestamp[]) WITH ORDINALITY" in sql
    assert params["a_starts"] == [start for start, _end in ranges] and params["a_ends"][2] == NOW - timedelta(days=14)


def test_customer_bucket_only_for_customers_rules_name():
    sql, params = ab.threads_sql(SCOPE, {9, 4}, NOW)
    assert "ANY(%(partners)s)" in sql and params["partners"] == [4, 9]
    assert params["account_ids"] == [1, 2] and "NOT coalesce(t.is_noise, false)" in sql


def test_bad_watches_are_refused():
    with pytest.raises(ValueError):
        ab.Watch(1, "nonsense")
    with pytest.raises(ValueError, match="daily counts"):
        ab.Watch(1, "overdue", mode="anomaly")
    with pytest.raises(ValueError, match="positive"):
        ab.Watch(1, "incoming", window=timedelta(0))


def test_anomaly_verdict_keeps_the_counted_value_in_the_notice():
    """evaluate(value=...) with a boolean verdict: the notice carries the count, not the old value."""
    rule = alerts.Rule(id=1)
    state, notices = alerts.evaluate(rule, None, True, NOW, value=60)
    assert state.status == "firing" and state.last_value == 60 and notices[0].value == 60


def test_owners_of_one_group_only_add_up_their_own_mailboxes():
    """Rules of owners with different mailboxes share the rows; each sums its owner's only."""
    rows = {"threads": [(1, None, None, 5, 5, 5), (2, None, None, 7, 7, 7)]}
    watches = [ab.Watch(1, "waiting", accounts=frozenset({1})), ab.Watch(2, "waiting", accounts=frozenset({1, 2}))]
    got = ab.fold(watches, rows)
    assert got[1, None].value == 5 and got[2, None].value == 12
