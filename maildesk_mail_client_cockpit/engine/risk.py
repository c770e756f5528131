"""Customer escalation risk: a transparent points score per open customer conversation.

No model, no LLM: each signal gives points on a published scale and the components are shown
next to the score, so a manager sees why a conversation ranks high (cockpit_anchors.md §3.6,
after the engineered features of Montgomery et al. and the practitioner signals listed there).

Components (0-100 in total)
    ``sla``        0-40  share of the SLA time used (elapsed ÷ allowed, business time):
                         40 × share, capped at 40 (due or past due)
    ``followups``  0-20  customer messages after the first unanswered one: 7 each, capped
    ``reopens``    0-10  times the conversation started again after it was answered and went
                         quiet or was closed: 5 each, capped
    ``handoffs``   0-10  reassignments: 4 each, capped
    ``age``        0-10  days since the conversation's first message: 1 per day, capped
    ``urgency``    0-10  distinct urgency words in the subject and the unanswered customer
                         text (``URGENCY_WORDS``, matched at the start of a word, any case):
                         5 each, capped

Level: ``high`` from ``HIGH`` points, ``medium`` from ``MEDIUM``, else ``low``.
"""
import re
from dataclasses import dataclass, field

CAPS = {"sla": 40, "followups": 20, "reopens": 10, "handoffs": 10, "age": 10, "urgency": 10}
POINTS = {"followups": 7, "reopens": 5, "handoffs": 4, "age": 1, "urgency": 5}
HIGH = 60
MEDIUM = 35
# Word starts (English and German): "cancel" also catches "cancellation", "kündig" "kündigen".
URGENCY_WORDS = ("urgent", "asap", "immediately", "escalat", "complain", "cancel", "refund", "lawyer", "legal action",
                 "unacceptable", "disappointed", "last reminder", "final notice", "dringend", "sofort", "kündig",
                 "beschwerde", "storn", "anwalt", "mahnung", "inakzeptabel")
_WORDS = re.compile(r"\b(" + "|".join(re.escape(w) for w in URGENCY_WORDS) + r")", re.I)


@dataclass(frozen=True)
class RiskInput:
    thread_id: int
    sla_elapsed: float | None = None  # business time used ÷ allowed (1.0 = due now); None: no SLA
    followups: int = 0
    reopens: int = 0
    handoffs: int = 0
    age_days: float = 0.0
    text: str = ""


@dataclass(frozen=True)
class Risk:
    thread_id: int
    score: int
    level: str
    components: dict = field(default_factory=dict)
    words: tuple = ()


def urgency_words(text):
    """The distinct urgency words found in ``text`` (lower case, in order of first appearance)."""
    seen = []
    for match in _WORDS.finditer(text or ""):
        word = match.group(1).lower()
        if word not in seen:
            seen.append(word)
    return tuple(seen)


def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number from 0 up, got {value!r}.")
    return value


def score(item):
    """The ``Risk`` of one conversation."""
    words = urgency_words(item.text)
    elapsed = item.sla_elapsed
    components = {
        "sla": 0 if elapsed is None else round(CAPS["sla"] * min(1.0, max(0.0, _count(elapsed, "SLA elapsed")))),
        "followups": min(CAPS["followups"], POINTS["followups"] * int(_count(item.followups, "Follow-ups"))),
        "reopens": min(CAPS["reopens"], POINTS["reopens"] * int(_count(item.reopens, "Reopens"))),
        "handoffs": min(CAPS["handoffs"], POINTS["handoffs"] * int(_count(item.handoffs, "Hand-offs"))),
        "age": min(CAPS["age"], int(POINTS["age"] * _count(item.age_days, "Age"))),
        "urgency": min(CAPS["urgency"], POINTS["urgency"] * len(words)),
    }
    total = sum(components.values())
    level = "high" if total >= HIGH else "medium" if total >= MEDIUM else "low"
    return Risk(item.thread_id, total, level, components, words)


def rank(items, limit=None):
    """Scores of ``items``, highest first (ties: the older conversation id first)."""
    ranked = sorted((score(item) for item in items), key=lambda r: (-r.score, r.thread_id))
    return ranked[:limit] if limit is not None else ranked
