"""Automatic assignment inside a team: round robin and least open load.

Plain values: each ``Candidate`` says whether the member is active, working now (per their
calendar, computed by the caller with ``hours.is_working``) and how many open conversations
they hold. Members that are inactive, not working or at the cap are never picked.

Round robin follows user ids in ascending order starting after the last member assigned
(the pointer survives between batches: the team stores it). Least load picks the member
with the fewest open conversations; ties go to the next member in round-robin order, so a
team starting at zero spreads evenly. An ``Assigner`` keeps counts within a batch.
"""
from dataclasses import dataclass

ROUND_ROBIN = "round_robin"
LEAST_LOAD = "least_load"


@dataclass
class Candidate:
    user_id: int
    active: bool = True
    working: bool = True
    open_count: int = 0


class Assigner:
    """Picks assignees one conversation at a time, updating loads and the pointer."""

    def __init__(self, candidates, method=ROUND_ROBIN, cap=0, last_user_id=0):
        self.method = method
        self.cap = cap or 0
        self.last_user_id = last_user_id or 0
        self.candidates = sorted((c for c in candidates if c.active and c.working), key=lambda c: c.user_id)

    def _eligible(self):
        return [c for c in self.candidates if not self.cap or c.open_count < self.cap]

    def _rotation(self, eligible):
        after = [c for c in eligible if c.user_id > self.last_user_id]
        before = [c for c in eligible if c.user_id <= self.last_user_id]
        return after + before

    def pick(self):
        """The next assignee's user id, or None when nobody can take one."""
        eligible = self._eligible()
        if not eligible:
            return None
        order = self._rotation(eligible)
        if self.method == LEAST_LOAD:
            least = min(c.open_count for c in order)
            chosen = next(c for c in order if c.open_count == least)
        else:
            chosen = order[0]
        chosen.open_count += 1
        self.last_user_id = chosen.user_id
        return chosen.user_id
