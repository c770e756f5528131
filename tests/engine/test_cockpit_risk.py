"""Escalation risk scores on known conversations (engine/risk.py)."""
import pytest

from maildesk_mail_client_cockpit.engine import risk
from maildesk_mail_client_cockpit.engine.risk import RiskInput


def test_a_quiet_new_conversation_scores_low():
    result = risk.score(RiskInput(1, sla_elapsed=0.1, age_days=0.2, text="Question about my order"))
    assert result.score == 4 and result.level == "low"
    assert result.components == {"sla": 4, "followups": 0, "reopens": 0, "handoffs": 0, "age": 0, "urgency": 0}


def test_every_component_on_its_published_scale():
    result = risk.score(RiskInput(2, sla_elapsed=0.5, followups=2, reopens=1, handoffs=1, age_days=3.7,
                                  text="This is URGENT"))
    assert result.components == {"sla": 20, "followups": 14, "reopens": 5, "handoffs": 4, "age": 3, "urgency": 5}
    assert result.score == 51 and result.level == "medium"
    assert result.words == ("urgent",)


def test_components_are_capped_and_the_total_stays_within_100():
    result = risk.score(RiskInput(3, sla_elapsed=4.0, followups=9, reopens=5, handoffs=7, age_days=40,
                                  text="urgent! cancel my contract, refund now, my lawyer will call"))
    assert result.components == risk.CAPS
    assert result.score == 100 and result.level == "high"


def test_no_sla_gives_no_sla_points():
    assert risk.score(RiskInput(4, sla_elapsed=None)).components["sla"] == 0


def test_urgency_words_match_word_starts_in_any_case_once_each():
    assert risk.urgency_words("Cancellation! cancel, CANCEL; Dringend bitte, ich will kündigen") == (
        "cancel", "dringend", "kündig")
    assert risk.urgency_words("The scancel tool and an insurgent") == ()


def test_rank_highest_first_ties_by_id():
    items = [RiskInput(7, sla_elapsed=0.5), RiskInput(3, sla_elapsed=0.5), RiskInput(9, sla_elapsed=1.0)]
    assert [r.thread_id for r in risk.rank(items)] == [9, 3, 7]
    assert [r.thread_id for r in risk.rank(items, limit=1)] == [9]


def test_negative_or_non_numeric_input_is_refused():
    with pytest.raises(ValueError, match="Follow-ups"):
        risk.score(RiskInput(1, followups=-1))
    with pytest.raises(ValueError, match="SLA"):
        risk.score(RiskInput(1, sla_elapsed="late"))
