"""Workload rebalance proposal: who holds too much open work, and which conversations could move.

Computed by code, deterministic, never applied by itself: the cockpit's AI panel shows the
proposal (the AI may word it) and the manager applies it with a click, through the cockpit's
ordinary reassign path (cockpit_anchors.md §3.4, after Front's "fewest open assigned" and
Zendesk's "highest spare capacity" in percent).

Inputs (plain values; the Odoo layer loads them)
    ``members``: ``Member(user_id, name, limit, team_ids)``; ``limit`` is the number of open
    conversations the person carries at 100 % (the team's "open conversations per member",
    else the cockpit default).
    ``threads``: ``OpenThread(thread_id, user_id, team_id, due, urgent, eligible)``: the open
    conversations that need a reply, assigned to a member; ``urgent`` when the SLA is due
    within ``URGENT_WITHIN`` business time or already passed; ``eligible`` the people who
    may take it (who read its mailbox), None for any member of its team.
    ``leaves``: ``Leave(user_id, start, end)`` from ``resource.calendar.leaves`` (``user_id``
    None: a public holiday for everyone); ``window``: ``(start, end)`` of the working day the
    proposal is for.

Method
    * load = Σ weights (``URGENT_WEIGHT`` = 2 for an urgent conversation, else 1);
    * availability = the share of the window not on leave; capacity = limit × availability;
    * percent = 100 × load / capacity (infinite when someone on leave holds work);
    * repeat up to ``MAX_MOVES`` times: take the most loaded person (by percent); move one of
      their conversations to the least loaded member of the conversation's team who is at
      work, when that lowers the higher of the two percentages. From someone who is at work
      the conversation due last moves (the urgent ones stay with whoever already read them);
      from someone on leave the one due first (it must not wait for their return);
    * stop when the spread (highest − lowest percent of the people at work) is at most
      ``TARGET_SPREAD`` points and nobody on leave holds work, or when no move helps.

Ties are broken by ids, so the same inputs always give the same proposal.
"""
import math
from dataclasses import dataclass, field
from datetime import timedelta

URGENT_WEIGHT = 2.0
URGENT_WITHIN = timedelta(hours=2)
TARGET_SPREAD = 20.0  # percentage points
MAX_MOVES = 10
DEFAULT_LIMIT = 20


@dataclass(frozen=True)
class Member:
    user_id: int
    name: str
    limit: int = DEFAULT_LIMIT
    team_ids: tuple = ()


@dataclass(frozen=True)
class OpenThread:
    thread_id: int
    user_id: int
    team_id: int | None
    due: object = None  # datetime or None (no SLA: due last)
    urgent: bool = False
    eligible: tuple | None = None  # who may take it (e.g. who reads its mailbox); None: any team member

    @property
    def weight(self):
        return URGENT_WEIGHT if self.urgent else 1.0


@dataclass(frozen=True)
class Leave:
    user_id: int | None  # None: everyone (public holiday)
    start: object
    end: object


@dataclass
class PersonLoad:
    user_id: int
    name: str
    limit: int
    availability: float
    capacity: float
    load_before: float
    load_after: float
    threads_before: int
    threads_after: int

    @property
    def on_leave(self):
        return self.capacity <= 0

    @property
    def percent_before(self):
        return percent(self.load_before, self.capacity)

    @property
    def percent_after(self):
        return percent(self.load_after, self.capacity)


@dataclass(frozen=True)
class Move:
    thread_id: int
    from_user_id: int
    to_user_id: int
    team_id: int | None
    urgent: bool
    reason: str


@dataclass
class Proposal:
    people: list = field(default_factory=list)
    moves: list = field(default_factory=list)
    spread_before: float = 0.0
    spread_after: float = 0.0

    @property
    def balanced(self):
        return not self.moves


def percent(load, capacity):
    """100 × load / capacity; 0 for no load, infinite when someone with no capacity holds work."""
    if load <= 0:
        return 0.0
    if capacity <= 0:
        return math.inf
    return 100.0 * load / capacity


def availability(user_id, leaves, window):
    """Share of ``window`` (start, end) that ``user_id`` is not on leave (their own or everyone's)."""
    start, end = window
    total = (end - start).total_seconds()
    if total <= 0:
        raise ValueError("The working window must end after it starts.")
    spans = sorted((max(leave.start, start), min(leave.end, end)) for leave in leaves
                   if leave.user_id in (None, user_id) and leave.start < end and leave.end > start)
    off, cursor = 0.0, start
    for span_start, span_end in spans:  # merge overlapping leaves so a day is not counted twice
        span_start = max(span_start, cursor)
        if span_end > span_start:
            off += (span_end - span_start).total_seconds()
            cursor = span_end
    return max(0.0, 1.0 - off / total)


def _spread(percents):
    """Highest − lowest percent of the people at work; infinite while someone on leave holds work."""
    finite = [p for p, on_leave in percents if not on_leave]
    if any(on_leave and p > 0 for p, on_leave in percents):
        return math.inf
    return max(finite) - min(finite) if len(finite) > 1 else 0.0


def propose(members, threads, leaves, window, max_moves=MAX_MOVES, target_spread=TARGET_SPREAD):
    """The rebalance ``Proposal`` for these members and open conversations (see module docstring)."""
    if max_moves < 0:
        raise ValueError("The number of moves cannot be negative.")
    members = sorted(members, key=lambda m: m.user_id)
    by_user = {m.user_id: m for m in members}
    if len(by_user) != len(members):
        raise ValueError("A person is listed twice.")
    avail = {m.user_id: availability(m.user_id, leaves, window) for m in members}
    capacity = {m.user_id: max(0, m.limit) * avail[m.user_id] for m in members}
    held = {m.user_id: [] for m in members}
    for thread in sorted(threads, key=lambda t: t.thread_id):
        if thread.user_id in held:
            held[thread.user_id].append(thread)
    load = {uid: sum(t.weight for t in items) for uid, items in held.items()}
    before = dict(load)
    count_before = {uid: len(items) for uid, items in held.items()}

    def pct(uid, extra=0.0):
        return percent(load[uid] + extra, capacity[uid])

    def state():
        return [(pct(m.user_id), capacity[m.user_id] <= 0) for m in members]

    spread_before = _spread(state())
    moves = []
    while len(moves) < max_moves and _spread(state()) > target_spread:
        move = None
        for source in sorted(by_user, key=lambda uid: (-pct(uid), uid)):
            if not held[source]:
                continue
            on_leave = capacity[source] <= 0
            # From someone at work: the conversation due last; from someone on leave: due first.
            latest_first = sorted(held[source], key=lambda t: (t.due is None, t.due or 0, t.thread_id),
                                  reverse=not on_leave)
            for thread in latest_first:
                targets = [uid for uid in by_user if uid != source and capacity[uid] > 0
                           and thread.team_id is not None and thread.team_id in by_user[uid].team_ids
                           and (thread.eligible is None or uid in thread.eligible)]
                if not targets:
                    continue
                target = min(targets, key=lambda uid: (pct(uid, thread.weight), uid))
                if pct(target, thread.weight) < pct(source):
                    move = (source, target, thread)
                    break
            if move:
                break
        if not move:
            break
        source, target, thread = move
        held[source].remove(thread)
        held[target].append(thread)
        load[source] -= thread.weight
        load[target] += thread.weight
        reason = "on leave" if capacity[source] <= 0 else "over capacity"
        moves.append(Move(thread.thread_id, source, target, thread.team_id, thread.urgent, reason))
    people = [PersonLoad(m.user_id, m.name, m.limit, round(avail[m.user_id], 3), round(capacity[m.user_id], 2),
                         before[m.user_id], load[m.user_id], count_before[m.user_id], len(held[m.user_id]))
              for m in members]
    return Proposal(people=people, moves=moves, spread_before=spread_before, spread_after=_spread(state()))
