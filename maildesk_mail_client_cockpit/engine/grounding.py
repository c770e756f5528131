"""Grounding of AI text in computed facts: every number the model writes must be one of ours.

"Numbers by code, prose by LLM" (cockpit_anchors.md §5.1). The code computes the facts, the
model words them, and ``check(text, facts)`` pulls every number claim out of the text and
returns the ones no fact supports. Text with any offending claim is not shown: the panel shows
``render_template(facts)`` instead and says so.

Facts
    ``{"id": "f1", "label": "Overdue threads", "value": 12, "unit": "threads", "display": "12"}``;
    ``unit`` is free text except the duration units ``s``, ``min``, ``h``, ``d`` (compared after
    conversion), ``%`` (a percentage value) and ``ratio`` (0.25 means 25 %). ``value`` may also be
    a date / time string (``2026-03-02``, ``10:30``), matched literally.

Claims
    Integers and decimals (``12``, ``-3``, ``3.5``), thousands separators (``1,234``,
    ``1 234``, ``1.234,5`` with ``decimal=","``), magnitude suffixes (``1.2k``, ``3M``),
    percentages (``25%``, ``25 percent``), durations (``3.5 h``, ``42 min``, ``2 days``), ISO
    dates and clock times. Digits glued to letters (``P90``, ``Q1``, ``SLA2``) are names, not
    claims.

Tolerance
    A claim matches a value when it is that value rounded to the claim's own precision
    (``3.5 h`` matches 3.47 h, ``1.2k`` matches 1,234; ``3 h`` does not match 3.6 h), signs
    ignored (``down 3`` for a delta of -3). A bare integer from 0 to 10 must be a fact exactly:
    so many values round to it that rounding would wave invented counts through. A percentage
    also matches a ratio fact, a ``%`` fact, the share ``a / b`` of two same-unit facts and the
    change ``(a − b) / b`` between them.
"""
import re
from dataclasses import dataclass
from itertools import permutations

DURATION_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400}
DURATION_WORDS = {
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "min", "min": "min", "mins": "min", "minute": "min", "minutes": "min",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
}
SMALL_INTEGER = 10
MAGNITUDES = {"k": 1e3, "K": 1e3, "M": 1e6, "bn": 1e9, "B": 1e9}

_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?"


def _number_pattern(decimal):
    group = "," if decimal == "." else r"\."
    dec = re.escape(decimal)
    return (rf"(?P<sign>[-−+])?(?P<num>\d{{1,3}}(?:(?:{group}|[ \u00a0\u202f])\d{{3}})+(?:{dec}\d+)?"
            rf"|\d+(?:{dec}\d+)?)")


def _claim_regex(decimal):
    units = "|".join(sorted(DURATION_WORDS, key=len, reverse=True))
    return re.compile(
        rf"(?P<date>(?<![\w.]){_DATE}(?!\w))|(?P<time>(?<![\w.:]){_TIME}(?![\w:]))"
        rf"|(?<![\w.,]){_number_pattern(decimal)}"
        rf"(?:(?P<mag>k|K|M|bn|B)(?![\w]))?"
        rf"(?:\s?(?P<pct>%|percent\b|per cent\b)|\s?(?P<unit>{units})(?![\w]))?"
        rf"(?![\w])(?!{re.escape(decimal)}\d)")


@dataclass(frozen=True)
class Claim:
    """One number found in the text: its spelling, value, kind and the precision it was written with."""

    text: str
    value: float | str
    kind: str  # number | percent | duration | date | time
    decimals: int = 0
    unit: str = ""  # duration unit (s, min, h, d) for durations
    scale: float = 1.0  # magnitude suffix (1.2k -> 1000)

    @property
    def tolerance(self):
        return 0.5 * 10 ** -self.decimals * self.scale


def extract(text, decimal="."):
    """Every number claim in ``text``, in order."""
    claims = []
    for match in _claim_regex(decimal).finditer(text or ""):
        if match.group("date") or match.group("time"):
            kind = "date" if match.group("date") else "time"
            claims.append(Claim(match.group(0), match.group(0), kind))
            continue
        raw = match.group("num")
        digits = re.sub(r"[ \u00a0\u202f]", "", raw)
        digits = digits.replace("," if decimal == "." else ".", "").replace(decimal, ".")
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        value = float(digits)
        if match.group("sign") in ("-", "−"):
            value = -value
        scale = MAGNITUDES.get(match.group("mag") or "", 1.0)
        if match.group("pct"):
            claims.append(Claim(match.group(0).strip(), value, "percent", decimals))
        elif match.group("unit"):
            unit = DURATION_WORDS[match.group("unit")]
            claims.append(Claim(match.group(0).strip(), value, "duration", decimals, unit))
        else:
            claims.append(Claim(match.group(0).strip(), value * scale, "number", decimals, scale=scale))
    return claims


def _numeric(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _close(claimed, actual, tolerance):
    return abs(abs(claimed) - abs(actual)) <= tolerance + 1e-9


def _percent_candidates(facts):
    """Every percentage the facts support: % facts, ratios, shares and changes of same-unit pairs."""
    numeric = [f for f in facts if _numeric(f.get("value"))]
    for fact in numeric:
        unit = fact.get("unit") or ""
        if unit == "%":
            yield fact["value"]
        elif unit == "ratio":
            yield 100.0 * fact["value"]
    plain = [f for f in numeric if (f.get("unit") or "") not in ("%", "ratio")]
    for a, b in permutations(plain, 2):
        if (a.get("unit") or "") != (b.get("unit") or "") or not b["value"]:
            continue
        yield 100.0 * a["value"] / b["value"]
        yield 100.0 * (a["value"] - b["value"]) / b["value"]


def supported(claim, facts):
    """True when some fact (or a percentage of facts) is this claim at its written precision."""
    if claim.kind in ("date", "time"):
        return any(claim.value in (str(f.get("value")), str(f.get("display") or "")) for f in facts)
    if claim.kind == "percent":
        return any(_close(claim.value, p, claim.tolerance) for p in _percent_candidates(facts))
    for fact in facts:
        value, unit = fact.get("value"), fact.get("unit") or ""
        if not _numeric(value):
            continue
        if claim.kind == "duration":
            if unit in DURATION_SECONDS:
                in_claim_unit = value * DURATION_SECONDS[unit] / DURATION_SECONDS[claim.unit]
                if _close(claim.value, in_claim_unit, claim.tolerance):
                    return True
            elif _close(claim.value, value, claim.tolerance):
                return True
        elif _close(claim.value, value, 0 if _small_integer(claim) else claim.tolerance):
            return True
    return False


def _small_integer(claim):
    """0-10 written bare: too easy to hit by rounding some fact, so it must be a fact exactly."""
    return claim.decimals == 0 and claim.scale == 1 and abs(claim.value) <= SMALL_INTEGER


def check(text, facts, decimal=".", allowed=()):
    """The claims in ``text`` that no fact supports (empty: the text is grounded).

    ``allowed``: extra values the caller vouches for (e.g. the number of bullets it asked for).
    """
    facts = list(facts) + [{"value": v} for v in allowed]
    return [claim for claim in extract(text, decimal) if not supported(claim, facts)]


def check_briefing(briefing, facts, **options):
    """``check`` over the summary and every bullet of a ``{"summary", "bullets": [{"text"}]}`` document."""
    texts = [briefing.get("summary") or ""] + [(b or {}).get("text") or "" for b in briefing.get("bullets") or ()]
    return check("\n".join(texts), facts, **options)


def format_value(value, unit=""):
    """How the template writes a fact: thousands separators, one decimal at most, unit after."""
    if _numeric(value):
        if unit == "ratio":
            return f"{100.0 * value:.1f} %".replace(".0 %", " %")
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
        return f"{text} {unit}".strip() if unit != "%" else f"{text} %"
    return str(value) if value is not None else "-"


def render_template(facts, title="Today's figures", note=None):
    """The plain fallback: one line per fact, from the facts alone (no AI)."""
    lines = [title]
    if note:
        lines.append(note)
    for fact in facts:
        display = fact.get("display") or format_value(fact.get("value"), fact.get("unit") or "")
        if fact.get("display") and fact.get("unit") and fact["unit"] not in fact["display"]:
            display = f"{display} {fact['unit']}"
        lines.append(f"- {fact.get('label') or fact.get('id')}: {display}")
    return "\n".join(lines)
