"""Cockpit definitions on hand-built conversation timelines (see engine/facts.py)."""
from datetime import datetime, timedelta

import pytest

from maildesk_mail_client_cockpit.engine import facts, stats
from maildesk_mail_client_cockpit.engine.bizhours import Calendar
from maildesk_mail_client_cockpit.engine.facts import Msg

OWN = {"support@acme.test", "sales@acme.test"}
CAL = Calendar()  # 9-17 Mon-Fri UTC
H = 3600


def inc(i, when, **kw):
    kw.setdefault("from_address", "client@customer.test")
    return Msg(id=i, date=when, direction="incoming", message_id=f"<{i}@x>", **kw)


def out(i, when, **kw):
    kw.setdefault("to", "Client <client@customer.test>")
    return Msg(id=i, date=when, direction="outgoing", from_address="support@acme.test", message_id=f"<{i}@x>", **kw)


def run(*messages):
    return facts.thread_facts(list(messages), OWN, CAL)


def test_simple_first_response_in_business_hours():
    """Inbound Monday 16:00, reply Tuesday 10:00: first response 2 business hours."""
    f = run(inc(1, datetime(2026, 3, 2, 16)), out(2, datetime(2026, 3, 3, 10)))
    first = f.messages[0]
    assert (first.kind, first.wait_start, first.first) == ("in", True, True)
    assert first.reply_seconds == 2 * H and first.answered_at == datetime(2026, 3, 3, 10)
    assert f.wait_since is None


def test_auto_responder_reply_does_not_stop_the_clock():
    """An Auto-Submitted: auto-replied answer is no reply; the human reply later is."""
    f = run(inc(1, datetime(2026, 3, 2, 10)), out(2, datetime(2026, 3, 2, 10, 1), auto_submitted="auto-replied"),
            out(3, datetime(2026, 3, 2, 14)))
    assert [m.kind for m in f.messages] == ["in", "auto", "out"]
    assert f.messages[0].reply_seconds == 4 * H


def test_auto_generated_incoming_is_not_counted():
    """Bulk, list, mailer-daemon and Auto-Submitted incoming mail never starts a wait."""
    f = run(inc(1, datetime(2026, 3, 2, 10), precedence="bulk"), inc(2, datetime(2026, 3, 2, 11), list_id="<l>"),
            inc(3, datetime(2026, 3, 2, 12), from_address="MAILER-DAEMON@mx.test"),
            inc(4, datetime(2026, 3, 2, 13), auto_submitted="auto-generated"),
            inc(5, datetime(2026, 3, 2, 13, 30), auto_submitted="no"))
    assert [m.kind for m in f.messages] == ["auto", "auto", "auto", "auto", "in"]
    assert f.wait_since == datetime(2026, 3, 2, 13, 30)


def test_internal_mail_between_our_mailboxes_is_excluded():
    """From sales@ to support@ (both ours) is internal both ways and needs no reply."""
    f = run(inc(1, datetime(2026, 3, 2, 10), from_address="sales@acme.test"),
            out(2, datetime(2026, 3, 2, 11), to="Sales <sales@acme.test>"))
    assert [m.kind for m in f.messages] == ["internal", "internal"]
    assert f.wait_since is None


def test_outgoing_to_a_customer_and_a_colleague_counts():
    f = run(out(1, datetime(2026, 3, 2, 10), to="sales@acme.test, client@customer.test"))
    assert f.messages[0].kind == "out"


def test_waiting_on_customer_pauses_nothing_is_owed():
    """After our reply the customer owes us: nothing waits, no open gap."""
    f = run(inc(1, datetime(2026, 3, 2, 10)), out(2, datetime(2026, 3, 2, 11)))
    assert f.wait_since is None and f.segment_consumed == H


def test_oldest_unanswered_message_starts_the_gap():
    """Two customer messages before the reply: one gap, from the first (Zendesk NRT)."""
    f = run(inc(1, datetime(2026, 3, 2, 10)), inc(2, datetime(2026, 3, 2, 12)), out(3, datetime(2026, 3, 2, 13)))
    assert [m.wait_start for m in f.messages] == [True, False, False]
    assert f.messages[0].reply_seconds == 3 * H


def test_next_response_gap_is_not_a_first_response():
    f = run(inc(1, datetime(2026, 3, 2, 10)), out(2, datetime(2026, 3, 2, 11)), inc(3, datetime(2026, 3, 2, 12)))
    assert f.messages[2].wait_start and not f.messages[2].first
    assert f.wait_since == datetime(2026, 3, 2, 12) and not f.wait_first


def test_reopened_after_inactivity_starts_a_new_segment():
    """A customer writing again after 5 days opens a new segment: a new first response."""
    start = datetime(2026, 3, 2, 10)
    f = run(inc(1, start), out(2, start + timedelta(hours=1)), inc(3, start + timedelta(days=7)))
    assert f.messages[2].first and f.wait_first
    assert f.segment_start == start + timedelta(days=7) and f.segment_consumed == 0


def test_reopened_within_inactivity_stays_in_segment():
    start = datetime(2026, 3, 2, 10)
    f = run(inc(1, start), out(2, start + timedelta(hours=1)), inc(3, start + timedelta(days=2)))
    assert not f.messages[2].first and f.segment_consumed == H


def test_segment_we_opened_has_no_first_response():
    """Outgoing first: the customer's answer is a next-response gap."""
    f = run(out(1, datetime(2026, 3, 2, 10)), inc(2, datetime(2026, 3, 2, 11)))
    assert f.messages[1].wait_start and not f.messages[1].first


def test_weekend_and_holiday_in_a_gap():
    """Friday 16:00 -> Tuesday 10:00 with Monday a holiday: 1 h + 1 h."""
    cal = Calendar(leaves=((datetime(2026, 3, 9), datetime(2026, 3, 10)),))
    f = facts.thread_facts([inc(1, datetime(2026, 3, 6, 16)), out(2, datetime(2026, 3, 10, 10))], OWN, cal)
    assert f.messages[0].reply_seconds == 2 * H


def test_time_zone_and_dst_in_a_gap():
    """Berlin: Friday 27 Mar 16:00 local -> Monday 30 Mar 10:00 local (after DST) = 2 h."""
    cal = Calendar(tz="Europe/Berlin")
    f = facts.thread_facts([inc(1, datetime(2026, 3, 27, 15)), out(2, datetime(2026, 3, 30, 8))], OWN, cal)
    assert f.messages[0].reply_seconds == 2 * H


def test_duplicates_spam_and_drafts():
    """A second copy of a Message-ID, spam and drafts are not counted."""
    a = inc(1, datetime(2026, 3, 2, 10))
    b = inc(2, datetime(2026, 3, 2, 10))
    b.message_id = a.message_id
    f = run(a, b, inc(3, datetime(2026, 3, 2, 11), folder_role="spam"),
            out(4, datetime(2026, 3, 2, 12), folder_role="drafts"))
    assert [m.kind for m in f.messages] == ["in", "dup", "spam", "draft"]


def test_customer_is_the_last_counted_sender():
    f = run(inc(1, datetime(2026, 3, 2, 10), partner_id=7), inc(2, datetime(2026, 3, 2, 11), partner_id=None))
    assert f.customer_id == 7


def test_percentiles_match_percentile_cont():
    """Linear interpolation like PostgreSQL: median of 1..4 is 2.5, p90 of 1..10 is 9.1."""
    assert stats.percentile([4, 1, 3, 2], 0.5) == 2.5
    assert stats.percentile(range(1, 11), 0.9) == 9.1
    assert stats.percentile([5], 0.9) == 5
    assert stats.percentile([], 0.5) is None
    assert stats.summary([1, 2, 3, 10]) == {"count": 4, "median": 2.5, "p90": pytest.approx(7.9), "mean": 4}


def test_trend():
    assert stats.trend(12, 10) == {"delta": 2, "percent": 20.0}
    assert stats.trend(3, 0) == {"delta": 3, "percent": None}
