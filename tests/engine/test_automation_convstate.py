"""The conversation state the rules planned before the INSERT see (twin of the SQL refresh)."""
from datetime import datetime

import pytest

from maildesk_automation.engine.convstate import conversation_state

D = datetime


@pytest.mark.parametrize(("is_closed", "closed_at", "last_in", "last_out", "state"), [
    (False, None, None, None, ""),                                   # no human message
    (False, None, D(2026, 1, 2), None, "waiting_for_us"),
    (False, None, D(2026, 1, 2), D(2026, 1, 1), "waiting_for_us"),
    (False, None, D(2026, 1, 1), D(2026, 1, 2), "waiting_for_them"),
    (False, None, D(2026, 1, 1), D(2026, 1, 1), "waiting_for_them"),  # a tie is not "after"
    (False, None, None, D(2026, 1, 1), "waiting_for_them"),
    (True, D(2026, 1, 3), D(2026, 1, 2), None, "closed"),
    (True, D(2026, 1, 3), D(2026, 1, 4), None, "waiting_for_us"),   # a later human message reopens
    (True, D(2026, 1, 3), D(2026, 1, 2), D(2026, 1, 5), "waiting_for_them"),
    (True, D(2026, 1, 3), D(2026, 1, 3), None, "closed"),           # dated at the close: still closed
    (True, None, D(2026, 1, 4), None, "closed"),                    # no close date: stays closed
    (True, D(2026, 1, 3), None, None, "closed"),
])
def test_conversation_state(is_closed, closed_at, last_in, last_out, state):
    assert conversation_state(is_closed, closed_at, last_in, last_out) == state
