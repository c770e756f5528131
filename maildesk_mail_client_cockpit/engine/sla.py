"""SLA policies, per-conversation SLA state and escalation levels, on plain values.

Policies
    A ``Policy`` has a scope (teams, mailboxes, customers, customer categories: an empty
    scope matches everything), targets in business hours (first response, next response,
    resolution; 0 = no target) and a calendar. Policies are tried in ``sequence`` order and
    **the first match wins** (Zendesk). A policy with nothing in its scope is a catch-all.

State of one conversation (``evaluate``)
    Only a conversation that waits for us has a running clock. Its **response** due time is
    the gap start + the first-response target (first gap of the segment) or the
    next-response target (a later gap). Its **resolution** due time counts only the time we
    owed an answer: the business time of the segment's answered gaps is already spent, the
    open gap spends the rest. While we wait for the customer the clock is paused (no due
    time); a closed conversation is ``met`` (or stays ``breached`` if its last gap was).
    The earlier of the two due times is the one shown. A manual override (triage) replaces
    the due time for the gap it was set on. Status: ``breached`` once now >= due,
    ``at_risk`` once ``at_risk_percent`` of the allowed business time has elapsed,
    otherwise ``on_track``.

Escalation
    A level fires at a moment relative to the due time: ``percent`` of the allowed time
    elapsed (80 -> at 80 %), or ``minutes`` of business time after the due time (0 = at
    breach, 120 = breach + 2 h). ``due_levels`` returns the levels whose moment has come;
    the caller records (conversation, gap, level) so each fires once per gap.
"""
from dataclasses import dataclass, field
from datetime import datetime

from . import bizhours

STATUSES = ("none", "on_track", "at_risk", "breached", "paused", "met")


@dataclass(frozen=True)
class Policy:
    id: int
    sequence: int = 10
    team_ids: frozenset = frozenset()
    account_ids: frozenset = frozenset()
    partner_ids: frozenset = frozenset()
    category_ids: frozenset = frozenset()
    first_response_hours: float = 0.0
    next_response_hours: float = 0.0
    resolution_hours: float = 0.0
    at_risk_percent: float = 80.0
    calendar: bizhours.Calendar | None = None


@dataclass(frozen=True)
class Level:
    id: int
    sequence: int = 10
    percent: float | None = None  # fire when this share of the allowed time has elapsed
    minutes: float | None = None  # or this many business minutes after the due time


@dataclass
class ThreadState:
    """What ``evaluate`` needs to know about one conversation (plain values)."""

    id: int
    team_id: int | None = None
    account_id: int | None = None
    partner_id: int | None = None
    category_ids: frozenset = frozenset()
    conversation_state: str = "waiting_for_us"
    wait_since: datetime | None = None
    wait_first: bool = False
    segment_consumed: float = 0.0
    override_due: datetime | None = None  # set by triage for the current gap
    previous_status: str = "none"


@dataclass
class SlaResult:
    policy_id: int | None = None
    status: str = "none"
    due: datetime | None = None
    start: datetime | None = None  # when the running clock started (the gap)
    target_kind: str | None = None  # first / next / resolution / override
    seconds_left: float | None = None  # business seconds until due (negative: overdue)
    allowed: float | None = None  # business seconds from start to due
    extra: dict = field(default_factory=dict)


def match(policies, thread):
    """The first policy (by sequence, then id) whose scope contains the conversation."""
    for policy in sorted(policies, key=lambda p: (p.sequence, p.id)):
        if policy.team_ids and thread.team_id not in policy.team_ids:
            continue
        if policy.account_ids and thread.account_id not in policy.account_ids:
            continue
        if policy.partner_ids and thread.partner_id not in policy.partner_ids:
            continue
        if policy.category_ids and not (policy.category_ids & thread.category_ids):
            continue
        return policy
    return None


def evaluate(policy, thread, now, calendar=None):
    """The ``SlaResult`` of one conversation under ``policy`` at ``now`` (naive UTC)."""
    if policy is None:
        return SlaResult()
    calendar = policy.calendar or calendar or bizhours.Calendar.round_the_clock()
    if thread.conversation_state == "closed":
        status = "breached" if thread.previous_status == "breached" else "met"
        return SlaResult(policy_id=policy.id, status=status)
    if thread.conversation_state != "waiting_for_us" or thread.wait_since is None:
        return SlaResult(policy_id=policy.id, status="paused")
    start = thread.wait_since
    candidates = []
    target = policy.first_response_hours if thread.wait_first else policy.next_response_hours
    if target:
        candidates.append((bizhours.add(calendar, start, target * 3600), "first" if thread.wait_first else "next"))
    if policy.resolution_hours:
        left = max(0.0, policy.resolution_hours * 3600 - (thread.segment_consumed or 0.0))
        candidates.append((bizhours.add(calendar, start, left), "resolution"))
    candidates = [c for c in candidates if c[0] is not None]
    if thread.override_due:
        candidates = [(thread.override_due, "override")]
    if not candidates:
        return SlaResult(policy_id=policy.id, status="none")
    due, kind = min(candidates, key=lambda c: c[0])
    allowed = bizhours.business_seconds(calendar, start, due)
    if now >= due:
        left = -bizhours.business_seconds(calendar, due, now)
        status = "breached"
    else:
        left = bizhours.business_seconds(calendar, now, due)
        elapsed = allowed - left
        status = "at_risk" if allowed and elapsed >= allowed * policy.at_risk_percent / 100.0 else "on_track"
    return SlaResult(policy_id=policy.id, status=status, due=due, start=start, target_kind=kind,
                     seconds_left=left, allowed=allowed)


def level_moment(level, result, calendar):
    """When ``level`` fires for this SLA result (naive UTC), or None without a due time."""
    if result.due is None or result.start is None:
        return None
    if level.percent is not None:
        return bizhours.add(calendar, result.start, (result.allowed or 0.0) * level.percent / 100.0)
    return bizhours.add(calendar, result.due, (level.minutes or 0.0) * 60)


def due_levels(levels, result, now, calendar, not_before=None):
    """Levels whose moment has come (in sequence order); the caller fires each once per gap.

    Decided from the result's own figures (no calendar walk): a share level has come when the
    elapsed business time reaches that share of the allowed time; an after-due level when
    the business time since the due time reaches its minutes. ``not_before``: levels whose
    moment is earlier (e.g. before the policy existed) are history and do not fire.
    """
    if result.due is None or result.start is None or result.seconds_left is None:
        return []
    allowed = result.allowed or 0.0
    elapsed = allowed - result.seconds_left
    over = -result.seconds_left if now >= result.due else None
    fired = []
    for level in sorted(levels, key=lambda lv: (lv.sequence, lv.id)):
        if level.percent is not None:
            come = elapsed >= allowed * level.percent / 100.0
        else:
            come = over is not None and over >= (level.minutes or 0.0) * 60
        if come and not_before is not None:
            moment = level_moment(level, result, calendar or bizhours.Calendar.round_the_clock())
            come = moment is not None and moment >= not_before
        if come:
            fired.append(level)
    return fired
