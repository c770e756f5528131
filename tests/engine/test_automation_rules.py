"""Engine tier of maildesk_automation: conditions, order and stop, regex bounds, assignment
fairness, RFC 3834 auto-replies, business hours across a holiday and time zones."""
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest

from maildesk_automation.engine import assign, autoreply, hours, rules
from maildesk_automation.engine.rules import EvalContext, MessageFacts, RuleError, RuleSpec


def msg(**kw):
    base = dict(id=1, account_id=1, thread_id=1, folder_id=10, from_address="alice@customer.example",
                to=("support@ours.example",), cc=("boss@ours.example",), subject="Invoice 2026-0042 overdue",
                body="Hello, please find the invoice attached.", attachments=(("inv.PDF", "application/pdf"),),
                is_reply=False, state="waiting_for_us", tag_ids=frozenset({5}), partner_id=7,
                date=datetime(2026, 1, 5, 10, 0), message_id="<m1@customer.example>")
    base.update(kw)
    return MessageFacts(**base)


def matches(cond, message=None, hits=None, rule_id=1):
    compiled = rules.compile_rules([RuleSpec(id=rule_id, conditions=[cond], actions=[{"kind": "star"}])])
    return bool(rules.plan(compiled, message or msg(), EvalContext(hits=hits or {})))


# -- every condition kind ----------------------------------------------------------------------
@pytest.mark.parametrize("cond,expected", [
    ({"kind": "sender", "value": "*@customer.example"}, True),
    ({"kind": "sender", "value": "ALICE@*"}, True),
    ({"kind": "sender", "value": "bob@*, carol@*"}, False),
    ({"kind": "sender_domain", "value": "customer.example"}, True),
    ({"kind": "sender_domain", "value": "@*.example"}, True),
    ({"kind": "sender_domain", "value": "other.example"}, False),
    ({"kind": "to_contains", "value": "support@"}, True),
    ({"kind": "to_contains", "value": "sales@"}, False),
    ({"kind": "to_contains", "value": "*@ours.example"}, True),
    ({"kind": "cc_contains", "value": "boss"}, True),
    ({"kind": "cc_contains", "value": "support"}, False),
    ({"kind": "subject_contains", "value": "invoice"}, True),
    ({"kind": "subject_contains", "value": "refund, quote"}, False),
    ({"kind": "subject_contains", "value": "refund, OVERDUE"}, True),
    ({"kind": "body_contains", "value": "quote, offer, attached"}, True),
    ({"kind": "subject_regex", "value": r"invoice \d{4}-\d{4}"}, True),
    ({"kind": "subject_regex", "value": r"^re:"}, False),
    ({"kind": "body_contains", "value": "attached"}, True),
    ({"kind": "body_regex", "value": r"please\s+find"}, True),
    ({"kind": "body_regex", "value": r"unsubscribe"}, False),
    ({"kind": "has_attachment"}, True),
    ({"kind": "attachment_type", "value": "pdf"}, True),
    ({"kind": "attachment_type", "value": "application/*"}, True),
    ({"kind": "attachment_type", "value": "docx, image/*"}, False),
    ({"kind": "position", "value": "first"}, True),
    ({"kind": "position", "value": "reply"}, False),
    ({"kind": "state", "value": "waiting_for_us"}, True),
    ({"kind": "state", "value": "closed"}, False),
    ({"kind": "tags", "ids": [5, 6]}, True),
    ({"kind": "tags", "ids": [6]}, False),
    ({"kind": "folder", "ids": [10]}, True),
    ({"kind": "folder", "ids": [11]}, False),
    ({"kind": "security_level", "value": "high"}, False),
    ({"kind": "auto_generated"}, False),
    ({"kind": "sender", "value": "*@customer.example", "negate": True}, False),
])
def test_condition_kinds(cond, expected):
    assert matches(cond) is expected


def test_security_level_and_auto_generated_on_the_message():
    m = msg(security_level="high", is_auto_generated=True)
    assert matches({"kind": "security_level", "value": "medium, high"}, m)
    assert matches({"kind": "auto_generated"}, m)
    assert not matches({"kind": "security_level", "value": ["medium", "high"]}, msg(security_level=""))


@pytest.mark.parametrize("value", ["", "safe", ["low", "critical"]])
def test_security_level_needs_scan_levels(value):
    """Only Pro's scan levels (low / medium / high) are accepted."""
    with pytest.raises(RuleError):
        rules.compile_rules([RuleSpec(id=1, conditions=[{"kind": "security_level", "value": value}])])


def test_domain_conditions_use_the_callers_batch_hits():
    assert matches({"kind": "message_domain", "value": "[]"}, hits={(1, 0): {1}})
    assert not matches({"kind": "message_domain", "value": "[]"}, hits={(1, 0): {2}})
    assert matches({"kind": "partner_domain", "value": "[]"}, hits={(1, 0): {1}})


def test_business_hours_condition_uses_the_team_calendar():
    cal = hours.WorkCalendar("Europe/Berlin", {d: [(9, 17)] for d in range(5)})
    monday_10_berlin = datetime(2026, 1, 5, 9, 0)   # 10:00 CET
    saturday = datetime(2026, 1, 10, 10, 0)
    assert matches({"kind": "business_hours", "value": "in"}, msg(calendar=cal, date=monday_10_berlin))
    assert matches({"kind": "business_hours", "value": "out"}, msg(calendar=cal, date=saturday))
    assert matches({"kind": "business_hours", "value": "in"}, msg(calendar=None))


def test_match_any_and_all():
    conds = [{"kind": "sender", "value": "nobody@*"}, {"kind": "subject_contains", "value": "invoice"}]
    any_rule = rules.compile_rules([RuleSpec(id=1, conditions=conds, match="any")])
    all_rule = rules.compile_rules([RuleSpec(id=1, conditions=conds, match="all")])
    assert rules.plan(any_rule, msg(), EvalContext())[0].matched == ["subject_contains invoice"]
    assert rules.plan(all_rule, msg(), EvalContext()) == []


def test_bad_conditions_are_refused_in_plain_words():
    for cond, words in [({"kind": "sender", "value": ""}, "at least one"),
                        ({"kind": "subject_regex", "value": "(unclosed"}, "not valid"),
                        ({"kind": "body_regex", "value": "a" * 301}, "longer than"),
                        ({"kind": "tags", "ids": []}, "tag"),
                        ({"kind": "nope"}, "Unknown")]:
        with pytest.raises(RuleError, match=words):
            rules.compile_rules([RuleSpec(id=1, name="Bad", conditions=[cond])])


# -- ordering, stop, triggers, scope, actions planned as data -----------------------------------
def test_rules_run_in_sequence_and_stop_processing():
    specs = [RuleSpec(id=3, sequence=30, actions=[{"kind": "star"}]),
             RuleSpec(id=1, sequence=10, actions=[{"kind": "add_tags", "ids": [1]}]),
             RuleSpec(id=2, sequence=20, actions=[{"kind": "move", "folder_id": 4}], stop=True)]
    decisions = rules.plan(rules.compile_rules(specs), msg(), EvalContext())
    assert [d.rule_id for d in decisions] == [1, 2]
    assert decisions[1].actions == [{"kind": "move", "folder_id": 4}]


def test_stop_only_when_the_rule_matched():
    specs = [RuleSpec(id=1, conditions=[{"kind": "sender", "value": "x@*"}], stop=True),
             RuleSpec(id=2, sequence=20)]
    assert [d.rule_id for d in rules.plan(rules.compile_rules(specs), msg(), EvalContext())] == [2]


def test_trigger_and_mailbox_scope():
    specs = [RuleSpec(id=1, trigger="sent"), RuleSpec(id=2, account_ids=frozenset({2})),
             RuleSpec(id=3, account_ids=frozenset({1, 2}))]
    assert [d.rule_id for d in rules.plan(rules.compile_rules(specs), msg(), EvalContext())] == [3]
    assert [d.rule_id for d in rules.plan(rules.compile_rules(specs), msg(), EvalContext(trigger="sent"))] == [1]


@pytest.mark.parametrize("kind", rules.ACTION_KINDS)
def test_every_action_kind_is_planned_as_plain_data(kind):
    action = {"kind": kind, "param": 1}
    decision = rules.plan(rules.compile_rules([RuleSpec(id=1, actions=[action])]), msg(), EvalContext())[0]
    assert decision.actions == [action] and decision.actions[0] is not None


def test_a_failing_condition_is_reported_and_the_next_rule_runs():
    broken = rules.compile_rules([RuleSpec(id=1, conditions=[{"kind": "business_hours", "value": "in"}]),
                                  RuleSpec(id=2, sequence=20)])
    ctx = EvalContext()
    unreadable = msg(date=datetime(2026, 3, 2, 10), calendar=object())  # the hours code fails on it
    assert [d.rule_id for d in rules.plan(broken, unreadable, ctx)] == [2]
    assert ctx.errors and ctx.errors[0][0] == 1


# -- regex bounds -------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a|aa)+$", r"(\w+\s?)+$"])
def test_catastrophic_regex_cannot_hang_the_sync(pattern):
    compiled = rules.compile_rules([RuleSpec(id=9, conditions=[{"kind": "body_regex", "value": pattern}])])
    ctx = EvalContext()
    start = time.perf_counter()
    assert rules.plan(compiled, msg(body="a" * 5000 + "!"), ctx) == []
    assert time.perf_counter() - start < 1.0
    assert ctx.errors and "timed out" in ctx.errors[0][1]


def test_regex_searches_only_the_first_part_of_a_huge_body():
    compiled = rules.compile_rules([RuleSpec(id=1, conditions=[{"kind": "body_regex", "value": "needle"}])])
    assert not rules.plan(compiled, msg(body="x" * rules.MAX_TEXT + "needle"), EvalContext())
    assert rules.plan(compiled, msg(body="needle" + "x" * rules.MAX_TEXT), EvalContext())


# -- assignment fairness ------------------------------------------------------------------------
def test_round_robin_is_fair_over_1000_assignments():
    assigner = assign.Assigner([assign.Candidate(u) for u in (4, 2, 9)], assign.ROUND_ROBIN)
    picks = [assigner.pick() for _ in range(1000)]
    assert picks[:4] == [2, 4, 9, 2]
    counts = Counter(picks)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_round_robin_resumes_after_the_last_assignee():
    assigner = assign.Assigner([assign.Candidate(u) for u in (1, 2, 3)], last_user_id=2)
    assert [assigner.pick() for _ in range(3)] == [3, 1, 2]


def test_least_load_evens_out_existing_loads_over_1000_assignments():
    cands = [assign.Candidate(1, open_count=30), assign.Candidate(2, open_count=0), assign.Candidate(3, open_count=10)]
    assigner = assign.Assigner(cands, assign.LEAST_LOAD)
    picks = [assigner.pick() for _ in range(1000)]
    assert set(picks[:10]) == {2}
    final = {c.user_id: c.open_count for c in assigner.candidates}
    assert max(final.values()) - min(final.values()) <= 1
    assert sum(final.values()) == 1040


def test_inactive_off_duty_and_capped_members_are_skipped():
    cands = [assign.Candidate(1, active=False), assign.Candidate(2, working=False),
             assign.Candidate(3, open_count=2), assign.Candidate(4)]
    assigner = assign.Assigner(cands, assign.LEAST_LOAD, cap=3)
    assert [assigner.pick() for _ in range(4)] == [4, 4, 3, 4]
    assert assigner.pick() is None  # everyone at the cap


# -- RFC 3834 auto-replies ----------------------------------------------------------------------
NOW = datetime(2026, 7, 10, 12, 0)


@pytest.mark.parametrize("kw,reason", [
    ({"auto_submitted": "auto-replied"}, "auto-generated"),
    ({"auto_submitted": "auto-generated"}, "auto-generated"),
    ({"precedence": "bulk"}, "auto-generated"),
    ({"precedence": "list"}, "auto-generated"),
    ({"list_id": "<l.example>"}, "auto-generated"),
    ({"from_address": "no-reply@shop.example"}, "auto-generated"),
    ({"from_address": "mailer-daemon@mx.example"}, "auto-generated"),
    ({"is_auto_generated": True}, "auto-generated"),
    ({"direction": "outgoing"}, "outgoing"),
    ({"from_address": "support@ours.example"}, "our mailboxes"),
    ({"from_address": "", "reply_to": ""}, "no sender"),
    ({"reply_to": "noreply@x.example"}, "no-reply"),
])
def test_never_answer(kw, reason):
    ok, why = autoreply.may_auto_reply(msg(**kw), now=NOW, own_addresses=["Support@ours.example"])
    assert not ok and reason in why


def test_answer_once_per_sender_per_period_and_in_the_window():
    m = msg()
    assert autoreply.may_auto_reply(m, now=NOW) == (True, "")
    assert not autoreply.may_auto_reply(m, now=NOW, last_sent_at=NOW - timedelta(days=3), once_per_days=4)[0]
    assert autoreply.may_auto_reply(m, now=NOW, last_sent_at=NOW - timedelta(days=5), once_per_days=4)[0]
    window = dict(window_start=datetime(2026, 7, 1), window_end=datetime(2026, 7, 20))
    assert autoreply.may_auto_reply(m, now=NOW, **window)[0]
    assert "after" in autoreply.may_auto_reply(m, now=datetime(2026, 7, 21), **window)[1]
    assert "before" in autoreply.may_auto_reply(m, now=datetime(2026, 6, 30), **window)[1]


def test_auto_reply_headers_threading_and_placeholders():
    m = msg(subject="Help", reply_to="desk@customer.example", references="<r0@x>")
    out = autoreply.build_auto_reply(m, "", "<p>Dear {{ sender_name }}, about {{subject}} {{unknown}}</p>",
                                     {"sender_name": "<Alice>", "subject": "Help"})
    assert out["headers"]["Auto-Submitted"] == "auto-replied"
    assert out["to"] == "desk@customer.example"
    assert out["subject"] == "Re: Help"
    assert out["in_reply_to"] == "<m1@customer.example>"
    assert out["references"] == "<r0@x> <m1@customer.example>"
    assert out["body_html"] == "<p>Dear &lt;Alice&gt;, about Help </p>"


def test_two_auto_responders_stop_after_one_answer_each():
    """A's answer carries Auto-Submitted; B never answers it, so the loop ends."""
    original = msg(from_address="a@one.example")
    ok, _ = autoreply.may_auto_reply(original, now=NOW, own_addresses=["b@two.example"])
    answer = autoreply.build_auto_reply(original, "", "away", {})
    echoed = msg(from_address="b@two.example", auto_submitted=answer["headers"]["Auto-Submitted"])
    assert ok and not autoreply.may_auto_reply(echoed, now=NOW, own_addresses=["a@one.example"])[0]


# -- business hours ----------------------------------------------------------------------------
BERLIN = hours.WorkCalendar("Europe/Berlin", {d: [(8, 12), (13, 17)] for d in range(5)},
                            leaves=((datetime(2025, 12, 24, 23), datetime(2025, 12, 26, 23)),))


def test_working_time_in_the_calendars_zone():
    assert hours.is_working(BERLIN, datetime(2026, 1, 5, 7, 30))      # 08:30 Berlin
    assert not hours.is_working(BERLIN, datetime(2026, 1, 5, 11, 30))  # lunch 12:30 Berlin
    assert not hours.is_working(BERLIN, datetime(2026, 1, 5, 16, 30))  # 17:30 Berlin
    assert hours.is_working(BERLIN, datetime(2026, 7, 6, 6, 30))       # 08:30 CEST (UTC+2)
    assert not hours.is_working(BERLIN, datetime(2026, 1, 10, 10))     # Saturday


def test_holiday_is_skipped_when_adding_business_hours():
    """Wednesday 24 Dec 16:00 Berlin + 2 h: 1 h that day, Christmas 25/26 off, weekend, Monday 09:00."""
    start = datetime(2025, 12, 24, 15, 0)  # 16:00 CET
    assert hours.add_business_hours(BERLIN, start, 2) == datetime(2025, 12, 29, 8, 0)  # 09:00 CET
    assert hours.business_seconds_between(BERLIN, start, datetime(2025, 12, 29, 8, 0)) == 7200


def test_same_instant_differs_by_zone():
    tokyo = hours.WorkCalendar("Asia/Tokyo", {d: [(9, 18)] for d in range(5)})
    instant = datetime(2026, 1, 5, 1, 0)  # 10:00 Tokyo, 02:00 Berlin
    assert hours.is_working(tokyo, instant) and not hours.is_working(BERLIN, instant)


def test_dst_day_has_its_real_length():
    always = hours.WorkCalendar("Europe/Berlin", {d: [(0, 24)] for d in range(7)})
    day = hours.business_seconds_between(always, datetime(2026, 3, 28, 23), datetime(2026, 3, 29, 22))
    assert day == 23 * 3600


# Two-week calendar: first week (5 Jan 2026, Odoo week_type "0") Mon-Fri 9-17, second week
# (12 Jan, week_type "1") Mon-Wed 9-13, Berlin time; Monday 12 Jan is a holiday.
TWO_WEEKS = hours.WorkCalendar("Europe/Berlin", {d: [(9, 17)] for d in range(5)},
                               leaves=((datetime(2026, 1, 11, 23), datetime(2026, 1, 12, 23)),),
                               second_week={d: [(9, 13)] for d in range(3)})


def test_week_type_follows_odoo():
    """Weeks run Monday to Sunday and alternate from 0001-01-01 (Odoo's get_week_type)."""
    assert [hours.week_type(datetime(2026, 1, d).date()) for d in (4, 5, 11, 12, 18, 19)] == [1, 0, 0, 1, 1, 0]


def test_two_week_calendar_alternates_its_weeks():
    assert hours.is_working(TWO_WEEKS, datetime(2026, 1, 8, 10))         # Thu, first week, 11:00
    assert not hours.is_working(TWO_WEEKS, datetime(2026, 1, 15, 10))    # Thu, second week: off
    assert hours.is_working(TWO_WEEKS, datetime(2026, 1, 13, 11))        # Tue, second week, 12:00
    assert not hours.is_working(TWO_WEEKS, datetime(2026, 1, 13, 12, 30))  # Tue, second week, 13:30
    assert not hours.is_working(TWO_WEEKS, datetime(2026, 1, 12, 9))     # Mon, second week: holiday
    assert hours.is_working(TWO_WEEKS, datetime(2026, 1, 22, 15))        # Thu, first week again, 16:00


def test_two_week_calendar_business_hours_across_the_holiday():
    """Fri 9 Jan 16:00 + 6 h: 1 h Friday, Monday 12 is a holiday, Tue 9-13 (4 h), Wed 9-10."""
    start = datetime(2026, 1, 9, 15)  # 16:00 CET
    end = hours.add_business_hours(TWO_WEEKS, start, 6)
    assert end == datetime(2026, 1, 14, 9)  # Wednesday 10:00 CET
    assert hours.business_seconds_between(TWO_WEEKS, start, end) == 6 * 3600
    # The same start without the second week's short days ends on Monday 12 (first-week hours).
    one_week = hours.WorkCalendar("Europe/Berlin", {d: [(9, 17)] for d in range(5)})
    assert hours.add_business_hours(one_week, start, 6) == datetime(2026, 1, 12, 13)


def test_two_week_calendar_takes_the_week_of_the_local_date():
    """Sunday 23:30 UTC is Monday 08:30 in Tokyo: the Tokyo Monday's week decides."""
    tokyo = hours.WorkCalendar("Asia/Tokyo", {0: [(8, 12)]}, second_week={})
    assert hours.is_working(tokyo, datetime(2026, 1, 4, 23, 30))       # Mon 5 Jan Tokyo, first week
    assert not hours.is_working(tokyo, datetime(2026, 1, 11, 23, 30))  # Mon 12 Jan Tokyo, second week
    # Monday 5 Jan 12:00 Tokyo + 2 h: the next first-week Monday, 19 Jan 08:00-10:00 Tokyo.
    assert hours.add_business_hours(tokyo, datetime(2026, 1, 5, 3), 2) == datetime(2026, 1, 19, 1, 0)


def test_no_calendar_means_always_and_empty_calendar_never():
    assert hours.add_business_hours(None, NOW, 5) == NOW + timedelta(hours=5)
    assert hours.add_business_hours(hours.WorkCalendar("UTC", {}), NOW, 1) is None


# -- regex shortcut and business hours once per message -----------------------------------------
@pytest.mark.parametrize("pattern,expected", [
    (r"(order|invoice)\s*#?\d{3}", ("order", "invoice")),
    (r"\b(urgent|asap)\b.{0,40}\b(refund|payment)\b", ("refund", "payment")),
    (r"(?:order|bill)\d", ("order", "bill")),
    (r"invoice\s+\d+", ("invoice",)),
    ("foo|barbaz", ("foo", "barbaz")),
    (r"(a+)+$", None), ("ab", None), ("foo|b", None), (r"(?:ab|cd)?xyz", ("xyz",)),
    (r"(?i)invoice", None), (r"(?=abc)abc", None), (r"(?:invoice){e<=1}", None), (r"\p{L}+invoice", None),
])
def test_required_literals(pattern, expected):
    assert rules.required_literals(pattern) == expected


@pytest.mark.parametrize("pattern", [
    r"(order|invoice)\s*#?\d{3}", r"\b(urgent|asap)\b.{0,40}\b(refund|payment)\b", r"(?:order|bill)\d",
    "foo|barbaz", r"x(abc)y", r"ab{2,}cde", r"invoice\s+\d+", r"[a-z]+voice",
])
def test_regex_shortcut_never_changes_the_answer(pattern):
    """The literal check only skips searches that cannot match: same answers as the plain search."""
    import random
    import re as std_re
    rng = random.Random(7)
    words = ["order", "invoice", "bill", "urgent", "asap", "refund", "payment", "foo", "barbaz", "xabcy", "abbcde",
             "#", "123", "4567", " ", "voice", "Invoice", "ORDER", "ß", "\u017f"]
    search = rules.compile_pattern(pattern)
    plain = std_re.compile(pattern)
    for _ in range(400):
        text = "".join(rng.choice(words) + rng.choice(["", " "]) for _ in range(rng.randint(0, 12)))
        assert search(text, text.lower()) == bool(plain.search(text.lower())), text


def test_business_hours_decided_once_per_message(monkeypatch):
    calendar = hours.WorkCalendar("Europe/Berlin", {d: [(8, 17)] for d in range(5)})
    compiled = rules.compile_rules([
        RuleSpec(id=i, sequence=i, conditions=[{"kind": "business_hours", "value": "in" if i % 2 else "out"}])
        for i in range(1, 7)])
    calls = []
    real = hours.is_working
    monkeypatch.setattr(hours, "is_working", lambda cal, when: calls.append(when) or real(cal, when))
    inside = msg(date=datetime(2026, 3, 2, 10), calendar=calendar)
    outside = msg(date=datetime(2026, 3, 2, 22), calendar=calendar)
    assert [d.rule_id for d in rules.plan(compiled, inside, EvalContext())] == [1, 3, 5]
    assert [d.rule_id for d in rules.plan(compiled, outside, EvalContext())] == [2, 4, 6]
    assert len(calls) == 2


# -- planning a batch rule by rule ----------------------------------------------------------------
def _random_batch(seed):
    """Random rules (all kinds of scope, stop, any/all, negation, activation) and messages."""
    import random
    rng = random.Random(seed)
    conds = [{"kind": "sender_domain", "value": "customer.example"}, {"kind": "subject_contains", "value": "invoice"},
             {"kind": "body_contains", "value": "attached, refund"}, {"kind": "has_attachment"},
             {"kind": "position", "value": "reply"}, {"kind": "tags", "ids": [5]},
             {"kind": "subject_regex", "value": r"(order|invoice)\s*\d+"}, {"kind": "to_contains", "value": "sales"},
             {"kind": "auto_generated"}]
    specs = []
    for i in range(1, 16):
        chosen = [dict(c, negate=rng.random() < 0.25) for c in rng.sample(conds, rng.randint(0, 3))]
        specs.append(RuleSpec(id=i, sequence=rng.randint(1, 5), conditions=chosen,
                              match=rng.choice(["all", "any"]), stop=rng.random() < 0.2,
                              trigger=rng.choice(["received"] * 5 + ["sent"]),
                              account_ids=rng.choice([frozenset(), frozenset({1}), frozenset({2})]),
                              actions=[{"kind": "star", "id": i}]))
    messages = [msg(id=n, account_id=rng.choice([1, 2]), from_address=rng.choice(["a@customer.example", "b@x.example"]),
                    subject=rng.choice(["Invoice 42", "Order 7", "hello", ""]),
                    body=rng.choice(["please find attached", "refund now", "nothing"]),
                    attachments=rng.choice([(), (("a.pdf", "application/pdf"),)]), is_reply=rng.random() < 0.5,
                    tag_ids=rng.choice([frozenset(), frozenset({5})]), to=rng.choice([("sales@x",), ("x@y",)]),
                    is_auto_generated=rng.random() < 0.2,
                    date=rng.choice([None, datetime(2026, 1, 1), datetime(2026, 6, 1)]))
                for n in range(60)]
    return rules.compile_rules(specs), messages


@pytest.mark.parametrize("seed", range(8))
def test_plan_batch_decides_as_plan_message_by_message(seed):
    """Same decisions, in the same order, as ``plan`` on each message (stop, scope, any/all)."""
    compiled, messages = _random_batch(seed)
    decisions, errors = rules.plan_batch(compiled, messages, EvalContext())
    expected = [rules.plan(compiled, m, EvalContext()) for m in messages]
    assert [[(d.rule_id, d.matched, d.actions) for d in row] for row in decisions] == \
        [[(d.rule_id, d.matched, d.actions) for d in row] for row in expected]
    assert all(not row for row in errors)


def test_plan_batch_activation_dates():
    """A rule applies to mail dated from its activation; undated mail counts as ``now``."""
    compiled = rules.compile_rules([RuleSpec(id=1), RuleSpec(id=2, sequence=20)])
    old, new, undated = msg(id=1, date=datetime(2025, 1, 1)), msg(id=2, date=datetime(2026, 6, 1)), msg(id=3, date=None)
    decisions, _errors = rules.plan_batch(compiled, [old, new, undated], EvalContext(),
                                          active_from={1: datetime(2026, 1, 1)}, now=datetime(2025, 6, 1))
    assert [[d.rule_id for d in row] for row in decisions] == [[2], [1, 2], [2]]


def test_plan_batch_charges_each_error_to_its_message():
    """A condition raising on one message fails its rule there only; a regex timeout is reported
    on the message it stopped on, as ``plan`` reports them."""
    compiled = rules.compile_rules([RuleSpec(id=1, conditions=[{"kind": "business_hours", "value": "in"}]),
                                    RuleSpec(id=2, sequence=20, conditions=[{"kind": "body_regex",
                                                                             "value": r"(a+)+$"}]),
                                    RuleSpec(id=3, sequence=30)])
    good = msg(id=1, date=datetime(2026, 3, 2, 10), calendar=None, body="fine")
    broken = msg(id=2, date=datetime(2026, 3, 2, 10), calendar=object(), body="fine")
    slow = msg(id=3, date=datetime(2026, 3, 2, 10), calendar=None, body="a" * 5000 + "!")
    ctx = EvalContext()
    decisions, errors = rules.plan_batch(compiled, [good, broken, slow], ctx)
    assert [[d.rule_id for d in row] for row in decisions] == [[1, 3], [3], [1, 3]]
    assert [[rule_id for rule_id, _text in row] for row in errors] == [[], [1], [2]]
    assert "timed out" in errors[2][0][1] and "on message 3" in errors[2][0][1]
    assert ctx.errors == []


def test_plan_batch_shares_a_rules_decisions_and_times_its_pass():
    """The messages a rule matched share its decision (per first matching condition when any)."""
    conds = [{"kind": "subject_contains", "value": "invoice"}, {"kind": "sender", "value": "bob@*"}]
    compiled = rules.compile_rules([RuleSpec(id=1, conditions=conds[:1], actions=[{"kind": "star"}]),
                                    RuleSpec(id=2, sequence=20, conditions=conds, match="any")])
    batch = [msg(id=1), msg(id=2), msg(id=3, subject="hello"), msg(id=4, subject="hi", from_address="bob@x")]
    decisions, _errors = rules.plan_batch(compiled, batch, EvalContext())
    first, second, third, fourth = decisions
    assert third == [] and first[0] is second[0] and first[1] is second[1]
    assert first[0].matched == ["subject_contains invoice"] and first[0].eval_ms >= 0
    assert fourth[0].rule_id == 2 and fourth[0].matched == ["sender bob@*"] and fourth[0] is not first[1]
