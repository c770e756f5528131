"""Numbers in AI text must be computed facts (engine/grounding.py)."""
import pytest

from maildesk_mail_client_cockpit.engine import grounding

FACTS = [
    {"id": "f1", "label": "Incoming today", "value": 1234, "unit": "messages"},
    {"id": "f2", "label": "Incoming yesterday", "value": 1000, "unit": "messages"},
    {"id": "f3", "label": "Overdue threads", "value": 12, "unit": "threads"},
    {"id": "f4", "label": "Open threads", "value": 48, "unit": "threads"},
    {"id": "f5", "label": "Median first reply", "value": 3.47, "unit": "h"},
    {"id": "f6", "label": "SLA attainment", "value": 0.914, "unit": "ratio"},
    {"id": "f7", "label": "Reply time change", "value": -7.5, "unit": "%"},
    {"id": "f8", "label": "Busiest day", "value": "2026-03-02"},
]


def values(text, **kwargs):
    return [(c.kind, c.value) for c in grounding.extract(text, **kwargs)]


def test_extracts_integers_decimals_and_signed_numbers():
    assert values("12 threads, 3.5 of them new, down -3 from 7.") == [
        ("number", 12), ("number", 3.5), ("number", -3), ("number", 7)]


def test_extracts_thousands_separators_and_magnitudes():
    assert values("1,234 mails and 1 234 more; 1.2k in all, 2M sent") == [
        ("number", 1234), ("number", 1234), ("number", 1200), ("number", 2e6)]
    assert values("1.234,5 Nachrichten", decimal=",") == [("number", 1234.5)]


def test_extracts_percentages_and_durations():
    assert values("91.4% met, 25 percent late, median 3.5 h, 42 min, 2 days, 30s") == [
        ("percent", 91.4), ("percent", 25), ("duration", 3.5), ("duration", 42), ("duration", 2), ("duration", 30)]
    units = [c.unit for c in grounding.extract("3.5 h, 42 minutes, 2 days")]
    assert units == ["h", "min", "d"]


def test_names_with_digits_are_not_claims_but_dates_are():
    assert values("P90 and Q1 via SLA2 on 2026-03-02 at 10:30") == [("date", "2026-03-02"), ("time", "10:30")]


def test_the_true_text_is_accepted():
    text = ("Incoming rose to 1,234 (23.4% more than yesterday's 1,000). 12 of 48 open threads are overdue "
            "(25%). The median first reply took 3.5 h, SLA attainment is 91.4% and reply times improved by 7.5%. "
            "The busiest day was 2026-03-02.")
    assert grounding.check(text, FACTS) == []


def test_an_invented_number_is_caught():
    offending = grounding.check("12 threads are overdue and 17 customers are waiting.", FACTS)
    assert [c.text for c in offending] == ["17"]


def test_rounding_is_only_to_the_written_precision():
    assert grounding.check("about 3.5 h", FACTS) == []
    assert grounding.check("about 3 h", FACTS) == []  # 3.47 rounds to 3
    assert [c.text for c in grounding.check("about 3.4 h", FACTS)] == ["3.4 h"]
    assert grounding.check("1.2k mails", FACTS) == []
    assert [c.text for c in grounding.check("1.3k mails", FACTS)] == ["1.3k"]


def test_durations_convert_between_units():
    assert grounding.check("a median of 208 minutes", FACTS) == []  # 3.47 h = 208.2 min
    assert [c.text for c in grounding.check("a median of 3.5 days", FACTS)] == ["3.5 days"]


def test_wrong_percentage_and_wrong_date_are_caught():
    offending = grounding.check("SLA attainment is 95% since 2026-03-01.", FACTS)
    assert [c.text for c in offending] == ["95%", "2026-03-01"]


def test_allowed_values_for_counts_the_caller_asked_for():
    text = "Here are 3 actions for the 12 overdue threads."
    assert [c.text for c in grounding.check(text, FACTS)] == ["3"]
    assert grounding.check(text, FACTS, allowed=[3]) == []


def test_briefing_document_is_checked_bullet_by_bullet():
    briefing = {"summary": "12 threads are overdue.", "bullets": [{"text": "Reassign 5 of them.", "fact_ids": []}]}
    assert [c.text for c in grounding.check_briefing(briefing, FACTS)] == ["5"]


@pytest.mark.parametrize("value, unit, expected", [
    (1234, "messages", "1,234 messages"), (3.47, "h", "3.5 h"), (0.914, "ratio", "91.4 %"), (0.5, "ratio", "50 %"),
    (-7.5, "%", "-7.5 %"), ("2026-03-02", "", "2026-03-02"), (None, "", "-"),
])
def test_format_value(value, unit, expected):
    assert grounding.format_value(value, unit) == expected


def test_template_fallback_renders_every_fact_and_is_itself_grounded():
    text = grounding.render_template(FACTS, note="The AI text quoted numbers we did not compute; here are the facts.")
    assert text.splitlines()[0] == "Today's figures"
    assert "- Incoming today: 1,234 messages" in text and "- SLA attainment: 91.4 %" in text
    assert "- Busiest day: 2026-03-02" in text
    assert grounding.check(text.split("\n", 2)[2], FACTS) == []
