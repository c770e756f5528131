"""The auto-generated-mail definition the conversation state rests on."""
from datetime import datetime

import pytest

from maildesk_automation.engine import autogen


@pytest.mark.parametrize("headers", [
    {"auto_submitted": "auto-replied"},
    {"auto_submitted": "Auto-Generated; owner-email=x@y"},
    {"auto_submitted": "auto-notified"},
    {"precedence": "bulk"}, {"precedence": "List"}, {"precedence": "junk"},
    {"list_id": "<news.example.org>"},
    {"from_address": "noreply@example.com"}, {"from_address": "no-reply+123@example.com"},
    {"from_address": "do_not_reply@example.com"}, {"from_address": "MAILER-DAEMON@mx.example.com"},
    {"from_address": "bounces-42@lists.example.com"}, {"from_address": "mailer-daemon"},
    {"null_return_path": True},
])
def test_auto_generated(headers):
    assert autogen.is_auto_generated(**headers)


@pytest.mark.parametrize("headers", [
    {}, {"auto_submitted": "no"}, {"auto_submitted": " No "}, {"precedence": "first-class"},
    {"from_address": "noreen@example.com"}, {"from_address": "replyto@example.com"},
    {"from_address": "bouncer-club@example.com"}, {"from_address": "alice@noreply.example.com"},
])
def test_human(headers):
    assert not autogen.is_auto_generated(**headers)


def test_conversation_state():
    t1, t2 = datetime(2026, 1, 1, 9), datetime(2026, 1, 1, 10)
    assert autogen.conversation_state(False, t2, t1) == "waiting_for_us"
    assert autogen.conversation_state(False, t1, t2) == "waiting_for_them"
    assert autogen.conversation_state(False, t1, t1) == "waiting_for_them"
    assert autogen.conversation_state(False, t1, None) == "waiting_for_us"
    assert autogen.conversation_state(True, t2, t1) == "closed"
    assert autogen.conversation_state(False, None, None) is False
