"""Alert state machine: pending, firing, repeat, resolved, flapping, no data (engine/alerts.py)."""
from datetime import datetime, timedelta

import pytest

from maildesk_mail_client_cockpit.engine.alerts import AlertState, Rule, breaches, dedup_key, evaluate

T0 = datetime(2026, 3, 2, 10, 0)
MIN = timedelta(minutes=1)


def run(rule, values, step=5 * MIN, state=None):
    """Feed one value per step; return the final state and [(minute, kind)] of every notice."""
    sent = []
    for i, value in enumerate(values):
        now = T0 + i * step
        state, notices = evaluate(rule, state, value, now)
        sent += [(int((n.at - T0) / MIN), n.kind) for n in notices]
    return state, sent


@pytest.mark.parametrize("operator, value, expected", [
    (">", 11, True), (">", 10, False), (">=", 10, True), ("<", 9, True), ("<", 10, False),
    ("<=", 10, True), ("=", 10, True), ("=", 10.5, False), ("!=", 10.5, True), ("!=", 10, False),
])
def test_threshold_operators(operator, value, expected):
    assert breaches(Rule(id=1, operator=operator, threshold=10), value) is expected


def test_bad_rule_parameters_are_refused_in_plain_words():
    with pytest.raises(ValueError, match="Unknown comparison"):
        Rule(id=1, operator="=>")
    with pytest.raises(ValueError, match="cannot be negative"):
        Rule(id=1, pending=-MIN)
    with pytest.raises(ValueError, match="no-data"):
        Rule(id=1, no_data="maybe")
    with pytest.raises(ValueError, match="clear threshold"):
        Rule(id=1, operator="=", clear_threshold=3)


def test_without_pending_period_it_fires_on_the_first_breach():
    state, sent = run(Rule(id=1, threshold=10), [12])
    assert state.status == "firing" and sent == [(0, "firing")]


def test_pending_then_firing_after_the_pending_period():
    """The condition must hold for the whole pending period; firing is notified once."""
    rule = Rule(id=1, threshold=10, pending=10 * MIN, repeat_interval=None)
    state, sent = run(rule, [12, 13, 14, 15])
    assert sent == [(10, "firing")]
    assert state.status == "firing" and state.active_since == T0 and state.last_value == 15


def test_pending_that_clears_never_notifies():
    state, sent = run(Rule(id=1, threshold=10, pending=15 * MIN), [12, 12, 3, 12, 12, 3])
    assert sent == [] and state.status == "normal"


def test_repeat_interval_resends_while_firing():
    rule = Rule(id=1, threshold=10, repeat_interval=timedelta(minutes=20))
    _state, sent = run(rule, [12] * 10)
    assert sent == [(0, "firing"), (20, "repeat"), (40, "repeat")]


def test_no_repeat_when_interval_is_none():
    _state, sent = run(Rule(id=1, threshold=10, repeat_interval=None), [12] * 10)
    assert sent == [(0, "firing")]


def test_resolved_notice_when_the_condition_clears():
    state, sent = run(Rule(id=1, threshold=10), [12, 12, 8])
    assert sent == [(0, "firing"), (10, "resolved")] and state.status == "normal"
    assert state.active_since is None


def test_no_resolved_notice_when_switched_off():
    _state, sent = run(Rule(id=1, threshold=10, notify_resolved=False), [12, 8])
    assert sent == [(0, "firing")]


def test_flapping_around_the_threshold_is_absorbed_by_keep_firing():
    """A dip shorter than keep_firing neither resolves nor re-fires: one incident, two notices."""
    rule = Rule(id=1, threshold=10, keep_firing=15 * MIN, repeat_interval=None)
    state, sent = run(rule, [12, 8, 12, 8, 12, 8, 8, 8, 8])
    assert sent == [(0, "firing"), (40, "resolved")]  # clear since 25, for 15 minutes
    assert state.status == "normal"


def test_recovering_state_until_keep_firing_elapses():
    rule = Rule(id=1, threshold=10, keep_firing=10 * MIN)
    state, _ = evaluate(rule, None, 12, T0)
    state, notices = evaluate(rule, state, 8, T0 + 5 * MIN)
    assert state.status == "recovering" and notices == []
    state, notices = evaluate(rule, state, 8, T0 + 10 * MIN)
    assert state.status == "recovering" and notices == []
    state, notices = evaluate(rule, state, 8, T0 + 15 * MIN)
    assert state.status == "normal" and [n.kind for n in notices] == ["resolved"]
    assert notices[0].started_at == T0


def test_clear_threshold_adds_hysteresis():
    """Fires above 10, clears only at or below 7: values of 8-10 keep it firing."""
    rule = Rule(id=1, operator=">", threshold=10, clear_threshold=7, repeat_interval=None)
    state, sent = run(rule, [11, 9, 10, 8, 11, 7])
    assert sent == [(0, "firing"), (25, "resolved")] and state.status == "normal"


def test_flapping_within_the_pending_period_never_fires():
    rule = Rule(id=1, threshold=10, pending=10 * MIN)
    _state, sent = run(rule, [12, 8] * 10)
    assert sent == []


def test_lower_bound_rule():
    """Operators work both ways: 'replies sent below 5' fires on a drop."""
    _state, sent = run(Rule(id=1, operator="<", threshold=5), [9, 4, 3, 6])
    assert sent == [(5, "firing"), (15, "resolved")]


def test_no_data_keeps_the_state_by_default():
    rule = Rule(id=1, threshold=10)
    state, _ = evaluate(rule, None, 12, T0)
    same, notices = evaluate(rule, state, None, T0 + 5 * MIN)
    assert same == state and notices == []


def test_no_data_modes_ok_and_alerting():
    state, sent = run(Rule(id=1, threshold=10, no_data="ok"), [12, None])
    assert sent == [(0, "firing"), (5, "resolved")]
    state, sent = run(Rule(id=1, threshold=10, no_data="alerting"), [None])
    assert state.status == "firing" and sent == [(0, "firing")]


def test_boolean_observation_is_an_anomaly_verdict():
    """Anomaly rules pass True / False from engine/anomaly.py instead of a value."""
    state, sent = run(Rule(id=1, pending=5 * MIN), [True, True, False])
    assert sent == [(5, "firing"), (10, "resolved")] and state.status == "normal"


def test_dedup_key_is_stable_per_rule_and_scope():
    key = dedup_key(7, {"team": 3, "mailbox": 9})
    assert key == dedup_key(7, {"mailbox": 9, "team": 3}) == dedup_key("7", {"mailbox": "9", "team": "3"})
    assert key != dedup_key(7, {"team": 4, "mailbox": 9}) and key != dedup_key(8, {"team": 3, "mailbox": 9})
    assert len(key) == 32


def test_unknown_state_is_refused():
    with pytest.raises(ValueError, match="Unknown alert state"):
        evaluate(Rule(id=1), AlertState(status="exploded"), 1, T0)
