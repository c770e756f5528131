"""Workload rebalance proposals on known teams (engine/rebalance.py)."""
import math
from datetime import datetime, timedelta

import pytest

from maildesk_mail_client_cockpit.engine import rebalance
from maildesk_mail_client_cockpit.engine.rebalance import Leave, Member, OpenThread

DAY = (datetime(2026, 3, 4, 8, 0), datetime(2026, 3, 4, 17, 0))
DUE = datetime(2026, 3, 4, 12, 0)


def team(*limits):
    return [Member(uid, f"P{uid}", limit, (1,)) for uid, limit in enumerate(limits, 1)]


def threads(user_id, count, start=0, urgent=False, team_id=1):
    return [OpenThread(user_id * 100 + start + i, user_id, team_id, DUE + timedelta(minutes=i), urgent)
            for i in range(count)]


def test_balanced_team_gets_no_moves():
    proposal = rebalance.propose(team(10, 10), threads(1, 5) + threads(2, 5), [], DAY)
    assert proposal.moves == []
    assert proposal.spread_before == 0


def test_overloaded_person_gives_to_least_loaded_until_spread_is_small():
    """10 vs 0 of 10 each: five moves make it 5 vs 5 (spread 0 <= 20 points)."""
    proposal = rebalance.propose(team(10, 10), threads(1, 10), [], DAY)
    assert [(m.from_user_id, m.to_user_id) for m in proposal.moves] == [(1, 2)] * 4
    people = {p.user_id: p for p in proposal.people}
    assert people[1].percent_before == 100 and people[2].percent_before == 0
    assert people[1].percent_after == 60 and people[2].percent_after == 40
    assert proposal.spread_after <= rebalance.TARGET_SPREAD


def test_the_conversation_due_last_moves_from_someone_at_work():
    proposal = rebalance.propose(team(10, 10), threads(1, 4), [], DAY, max_moves=1)
    assert proposal.moves[0].thread_id == 103  # due 12:03, the latest


def test_urgent_conversations_weigh_double():
    proposal = rebalance.propose(team(10, 10), threads(1, 3, urgent=True) + threads(2, 6), [], DAY)
    people = {p.user_id: p for p in proposal.people}
    assert people[1].load_before == 6 and people[2].load_before == 6
    assert proposal.moves == []


def test_capacity_is_relative_to_each_limit():
    """6 of 20 (30 %) and 3 of 5 (60 %): one move from the smaller limit."""
    proposal = rebalance.propose(team(20, 5), threads(1, 6) + threads(2, 3), [], DAY)
    assert [(m.from_user_id, m.to_user_id) for m in proposal.moves] == [(2, 1)]


def test_someone_on_leave_hands_everything_over_most_urgent_first():
    leave = [Leave(1, datetime(2026, 3, 3), datetime(2026, 3, 6))]
    items = threads(1, 3)
    proposal = rebalance.propose(team(10, 10, 10), items, leave, DAY)
    assert [m.thread_id for m in proposal.moves] == [100, 101, 102]  # due first, first
    assert {m.to_user_id for m in proposal.moves} == {2, 3}
    assert all(m.reason == "on leave" for m in proposal.moves)
    people = {p.user_id: p for p in proposal.people}
    assert people[1].on_leave and math.isinf(people[1].percent_before) and people[1].threads_after == 0


def test_half_day_leave_halves_capacity():
    leave = [Leave(2, datetime(2026, 3, 4, 8, 0), datetime(2026, 3, 4, 12, 30))]
    assert rebalance.availability(2, leave, DAY) == pytest.approx(0.5)
    assert rebalance.availability(1, leave, DAY) == 1.0


def test_overlapping_leaves_are_not_counted_twice():
    leaves = [Leave(1, datetime(2026, 3, 4, 8), datetime(2026, 3, 4, 12)),
              Leave(1, datetime(2026, 3, 4, 10), datetime(2026, 3, 4, 14))]
    assert rebalance.availability(1, leaves, DAY) == pytest.approx(3 / 9)


def test_public_holiday_stops_everyone_and_nothing_moves():
    proposal = rebalance.propose(team(10, 10), threads(1, 6), [Leave(None, *DAY)], DAY)
    assert proposal.moves == []
    assert all(p.on_leave for p in proposal.people)


def test_moves_stay_within_the_conversations_team():
    members = [Member(1, "A", 10, (1,)), Member(2, "B", 10, (2,)), Member(3, "C", 10, (1,))]
    proposal = rebalance.propose(members, threads(1, 8), [], DAY)
    assert proposal.moves and {m.to_user_id for m in proposal.moves} == {3}


def test_moves_are_capped():
    proposal = rebalance.propose(team(100, 100), threads(1, 90), [], DAY, max_moves=3)
    assert len(proposal.moves) == 3


def test_same_inputs_same_proposal():
    items = threads(1, 7) + threads(2, 1) + threads(3, 2, urgent=True)
    first = rebalance.propose(team(10, 8, 6), items, [], DAY)
    again = rebalance.propose(team(10, 8, 6), list(reversed(items)), [], DAY)
    assert first.moves == again.moves


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="twice"):
        rebalance.propose(team(10) + team(5), [], [], DAY)
    with pytest.raises(ValueError, match="window"):
        rebalance.availability(1, [], (DAY[1], DAY[0]))


def test_only_eligible_people_receive_a_conversation():
    """A member who cannot read the conversation's mailbox is never proposed for it."""
    items = [OpenThread(i, 1, 1, eligible=(1, 3)) for i in range(8)]
    proposal = rebalance.propose(team(10, 10, 10), items, [], DAY)
    assert proposal.moves and {m.to_user_id for m in proposal.moves} == {3}
