"""The AI panel's facts, prompt and line gate (engine/briefing.py)."""
import json
from datetime import date, datetime

from maildesk_mail_client_cockpit.engine import anomaly, briefing, rebalance, risk

DAY = date(2026, 3, 4)


def facts(names=True):
    anomalies = [("incoming", date(2026, 3, 2), anomaly.score(57, [20, 22, 19, 21], "up"))]
    risks = [("R1", risk.score(risk.RiskInput(11, sla_elapsed=1.0, followups=2, text="urgent")),
              "Carla <script>" if names else None)]
    window = (datetime(2026, 3, 4, 8), datetime(2026, 3, 4, 17))
    members = [rebalance.Member(1, "Ann", 10, (1,)), rebalance.Member(2, "Bob", 10, (1,))]
    threads = [rebalance.OpenThread(i, 1, 1) for i in range(10)]
    proposal = rebalance.propose(members, threads, [], window)
    return briefing.build_facts(DAY, {"incoming": 57, "outgoing": 40, "waiting": 12, "needs_reply": 9, "overdue": 3},
                                first_response_seconds=2520, anomalies=anomalies, risks=risks, proposal=proposal,
                                names={1: "Ann", 2: "Bob"})


def test_facts_cover_queue_anomalies_risks_and_moves():
    found = {f["id"]: f for f in facts()}
    assert found["overdue"]["value"] == 3 and found["first_response"]["display"] == "42 min"
    assert found["A1_day"]["value"] == "2026-03-02" and found["A1_median"]["value"] == 20.5
    assert found["R1_score"]["value"] == 59 and "medium" in found["R1_score"]["label"]
    assert found["moves"]["value"] == 4 and found["M1"]["label"] == "M1: from Ann to Bob (over capacity)"
    assert found["load_1"]["value"] == 100 and found["load_after_1"]["value"] == 60


def test_customer_names_only_when_given_and_cleaned():
    labels = " ".join(f["label"] for f in facts())
    assert "Carla  script" in labels and "<" not in labels
    assert "Carla" not in " ".join(f["label"] for f in facts(names=False))


def test_prompt_holds_the_facts_as_json_and_no_ids():
    chat = briefing.messages("briefing", facts(), "Support team", DAY)
    assert chat[0]["content"].startswith("MAILDESK_COCKPIT_BRIEFING")
    data = json.loads(chat[1]["content"].split("\n", 1)[1])
    assert {f["id"] for f in data["facts"]} >= {"overdue", "R1_score", "M1"}
    assert "11" not in [str(f["display"]) for f in data["facts"]]  # the conversation id is not a fact


def test_gate_releases_grounded_lines_and_stops_at_an_invented_number():
    gate = briefing.LineGate(facts())
    released = gate.feed("Today 57 messages came in and 3 are overdue.\n- Reply to R1 fi")
    assert released == ["Today 57 messages came in and 3 are overdue.\n"]
    assert gate.feed("rst (59 points).\n- Overdue rose to 4321 thr") == ["- Reply to R1 first (59 points).\n"]
    assert gate.feed("eads.\n- Fine line.\n") == []
    assert gate.failed == ["4321"]
    assert gate.verdict() == (False, ["4321"])


def test_whole_text_verdicts():
    assert briefing.gate_text("Median first response 42 min; Ann is at 100 %.", facts()) == (True, [])
    ok, bad = briefing.gate_text("Overdue went from 3 to 8.", facts())
    assert not ok and bad == ["8"]
    assert briefing.gate_text("   ", facts()) == (False, ["(empty answer)"])


def test_template_says_why_and_recommends_from_facts():
    text = briefing.template("briefing", facts(), note="The AI text was not shown: 4321 is not a computed figure.")
    assert text.startswith("Daily briefing (figures)\nThe AI text was not shown")
    assert "- Overdue: 3 conversations" in text and "Look at R1" in text
    assert briefing.gate_text(text.split("\n", 2)[2], facts())[0]  # the template itself is grounded


def test_digits_inside_names_are_not_claims():
    members = [rebalance.Member(1, "Agent 7", 10, (1,)), rebalance.Member(2, "Bob", 10, (1,))]
    window = (datetime(2026, 3, 4, 8), datetime(2026, 3, 4, 17))
    proposal = rebalance.propose(members, [rebalance.OpenThread(i, 1, 1) for i in range(4)], [], window)
    found = briefing.build_facts(DAY, {"overdue": 3}, proposal=proposal, names={1: "Agent 7", 2: "Bob"})
    assert briefing.gate_text("Agent 7 holds 4 conversations, 3 overdue.", found) == (True, [])
    assert briefing.gate_text("Agent 8 holds 4 conversations.", found) == (False, ["8"])
