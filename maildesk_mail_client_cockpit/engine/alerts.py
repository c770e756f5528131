"""The alert state machine: one pure step per evaluation, the way Prometheus / Grafana do it.

``evaluate(rule, state, observation, now) -> (new_state, notices)``. Nothing is stored here: the
model keeps one ``AlertState`` per (rule, scope), feeds it the KPI value of each cron run and
sends the notices it gets back.

States
    ``normal`` → ``pending`` when the condition starts to hold; ``pending`` → ``firing`` once it
    has held continuously for ``rule.pending`` (no pending period: it fires on the first
    breaching evaluation); ``firing`` → ``recovering`` when it stops holding and
    ``rule.keep_firing`` is set, → ``normal`` once it has stayed clear that long (or at once
    without ``keep_firing``), with a ``resolved`` notice when ``rule.notify_resolved``.

Notices
    ``firing`` once when the alert starts firing; ``repeat`` while it keeps firing, at most every
    ``rule.repeat_interval`` after the last notice (None: never repeat); ``resolved`` when it
    ends. A pending alert that clears never notifies.

Flapping
    Three guards: the pending period (a value that crosses the threshold and comes back between
    two runs never fires), ``keep_firing`` (a brief dip does not resolve and re-fire), and an
    optional ``clear_threshold`` (hysteresis: once firing, the alert clears only when the value
    is back past this second threshold). A return to ``firing`` from ``recovering`` sends no new
    ``firing`` notice: it is the same incident.

No data
    ``observation`` None (the KPI could not be computed) follows ``rule.no_data``: ``keep``
    (default: nothing changes), ``ok`` (counts as clear) or ``alerting`` (counts as breaching).

De-duplication
    ``dedup_key(rule_id, scope)`` is a stable hash of the rule and its scope labels, the
    equivalent of the Alertmanager fingerprint: one state and one incident per key.
"""
import hashlib
import json
import operator as _op
from dataclasses import dataclass, replace
from datetime import timedelta

OPERATORS = {">": _op.gt, ">=": _op.ge, "<": _op.lt, "<=": _op.le, "=": _op.eq, "!=": _op.ne}
NO_DATA_MODES = ("keep", "ok", "alerting")
DEFAULT_REPEAT = timedelta(hours=4)  # Alertmanager's repeat_interval default
STATUSES = ("normal", "pending", "firing", "recovering")


@dataclass(frozen=True)
class Rule:
    """What to watch: ``observation <operator> threshold`` held for ``pending`` before firing."""

    id: int
    operator: str = ">"
    threshold: float = 0
    pending: timedelta = timedelta(0)
    keep_firing: timedelta = timedelta(0)
    repeat_interval: timedelta | None = DEFAULT_REPEAT
    notify_resolved: bool = True
    clear_threshold: float | None = None
    no_data: str = "keep"

    def __post_init__(self):
        if self.operator not in OPERATORS:
            raise ValueError(f"Unknown comparison {self.operator!r}; use one of {', '.join(OPERATORS)}.")
        if self.no_data not in NO_DATA_MODES:
            raise ValueError(f"Unknown no-data behaviour {self.no_data!r}; use one of {', '.join(NO_DATA_MODES)}.")
        for name in ("pending", "keep_firing", "repeat_interval"):
            value = getattr(self, name)
            if value is not None and value < timedelta(0):
                raise ValueError(f"The {name.replace('_', ' ')} of an alert rule cannot be negative.")
        if self.clear_threshold is not None and self.operator in ("=", "!="):
            raise ValueError("A clear threshold needs an ordering comparison (<, <=, >, >=).")


@dataclass(frozen=True)
class AlertState:
    """Where one (rule, scope) stands; ``active_since`` is when the current incident began."""

    status: str = "normal"
    since: object = None  # when this status was entered
    active_since: object = None  # first breaching evaluation of the current pending/firing run
    last_notified_at: object = None
    last_value: float | None = None


@dataclass(frozen=True)
class Notice:
    """One notification to send: ``kind`` firing / repeat / resolved."""

    kind: str
    rule_id: int
    value: float | None
    started_at: object
    at: object


def dedup_key(rule_id, scope):
    """Stable key of one alert instance: the rule and its scope labels (order-insensitive)."""
    labels = sorted((str(k), str(v)) for k, v in dict(scope or {}).items())
    raw = json.dumps([str(rule_id), labels], separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def breaches(rule, value, firing=False):
    """True when ``value`` breaches the rule (past the clear threshold when already firing)."""
    threshold = rule.clear_threshold if firing and rule.clear_threshold is not None else rule.threshold
    return OPERATORS[rule.operator](value, threshold)


def evaluate(rule, state, observation, now, value=None):
    """One evaluation step: the new state and the notices to send now.

    ``observation``: the KPI value, a boolean verdict (anomaly rules), or None (no data).
    ``value``: with a boolean verdict, the number it was reached on (kept and sent in notices).
    """
    state = state or AlertState()
    if state.status not in STATUSES:
        raise ValueError(f"Unknown alert state {state.status!r}.")
    active = state.status in ("firing", "recovering")
    if observation is None:
        if rule.no_data == "keep":
            return state, []
        breaching = rule.no_data == "alerting"
    elif isinstance(observation, bool):
        breaching = observation  # anomaly rules pass the verdict of engine/anomaly.py
    else:
        breaching = breaches(rule, observation, firing=active)
    if isinstance(observation, bool):
        value = value if value is not None else state.last_value
    else:
        value = observation
    notices = []

    def notice(kind, started):
        notices.append(Notice(kind=kind, rule_id=rule.id, value=value, started_at=started, at=now))

    status = state.status
    if status == "normal":
        if not breaching:
            return replace(state, last_value=value), []
        if rule.pending <= timedelta(0):
            notice("firing", now)
            return AlertState("firing", now, now, now, value), notices
        return AlertState("pending", now, now, state.last_notified_at, value), []

    if status == "pending":
        if not breaching:
            return AlertState("normal", now, None, state.last_notified_at, value), []
        if now - state.active_since >= rule.pending:
            notice("firing", state.active_since)
            return AlertState("firing", now, state.active_since, now, value), notices
        return replace(state, last_value=value), []

    if breaching:  # firing, or recovering that breaches again: the same incident goes on
        new = AlertState("firing", state.since if status == "firing" else now, state.active_since,
                         state.last_notified_at, value)
        due = (rule.repeat_interval is not None and rule.repeat_interval > timedelta(0)
               and (state.last_notified_at is None or now - state.last_notified_at >= rule.repeat_interval))
        if due:
            notice("repeat", state.active_since)
            new = replace(new, last_notified_at=now)
        return new, notices

    if status == "firing" and rule.keep_firing > timedelta(0):
        return AlertState("recovering", now, state.active_since, state.last_notified_at, value), []
    if status == "recovering" and now - state.since < rule.keep_firing:
        return replace(state, last_value=value), []
    if rule.notify_resolved:
        notice("resolved", state.active_since)
        return AlertState("normal", now, None, now, value), notices
    return AlertState("normal", now, None, state.last_notified_at, value), []
