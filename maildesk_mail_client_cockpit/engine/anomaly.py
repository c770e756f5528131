"""Statistical anomalies in daily counts: same-weekday median / MAD and the modified z-score.

No LLM involved; the cockpit lists these even without an AI provider, and an "anomaly" alert
rule fires on ``score(...).level == "anomaly"``.

Recipe (cockpit_anchors.md §3.2-3.3)
    * Baseline: the same weekday over the previous ``weeks`` weeks (4-8), skipping days off
      (holidays, leaves) the caller passes in ``skip``; at least ``min_history`` values (3) or
      the day is ``insufficient`` and never flagged.
    * Score: Iglewicz & Hoaglin's modified z ``M = 0.6745 · (x − median) / MAD``. When MAD is 0
      (a flat baseline), ``M = (x − median) / (1.253314 · MeanAD)``; when that is 0 too, MAD is
      floored at ``max(1, 0.1 · median)`` so a flat 0, 0, 0 baseline does not flag every 1.
    * Levels: ``|M| ≥ 3.5`` anomaly, ``≥ 2.5`` unusual, else normal; and small counts also need
      an absolute gap ``|x − median| ≥ min_gap`` (5) so that 0 → 2 is not news.
    * Direction-aware: ``up`` flags only rises (incoming, overdue, needs reply), ``down`` only
      drops (outgoing, replies), ``both`` either way.
"""
import statistics
from dataclasses import dataclass
from datetime import timedelta

Z_FACTOR = 0.6745
MEANAD_FACTOR = 1.253314
ANOMALY_Z = 3.5
UNUSUAL_Z = 2.5
MIN_HISTORY = 3
MIN_GAP = 5
DEFAULT_WEEKS = 8
DIRECTIONS = ("up", "down", "both")
KPI_DIRECTIONS = {"incoming": "up", "needs_reply": "up", "overdue": "up", "outgoing": "down", "replies": "down"}


@dataclass(frozen=True)
class Score:
    """The verdict on one value against its baseline (the facts the AI briefing may quote)."""

    value: float
    median: float | None
    mad: float | None
    z: float | None
    level: str  # insufficient | normal | unusual | anomaly
    direction: str  # the rule's direction: up | down | both
    history: int  # how many baseline values were used

    @property
    def flagged(self):
        return self.level == "anomaly"


def median(values):
    return float(statistics.median(values))


def mad(values, center=None):
    """Median absolute deviation from the median (raw, not scaled to sigma)."""
    center = median(values) if center is None else center
    return median([abs(v - center) for v in values])


def modified_z(value, history):
    """The modified z-score of ``value`` against ``history`` (with the MAD = 0 fallbacks)."""
    center = median(history)
    spread = mad(history, center)
    if spread > 0:
        return Z_FACTOR * (value - center) / spread
    mean_ad = sum(abs(v - center) for v in history) / len(history)
    if mean_ad > 0:
        return (value - center) / (MEANAD_FACTOR * mean_ad)
    return Z_FACTOR * (value - center) / max(1.0, 0.1 * abs(center))


def score(value, history, direction="both", min_history=MIN_HISTORY, min_gap=MIN_GAP,
          anomaly_z=ANOMALY_Z, unusual_z=UNUSUAL_Z):
    """Score one value against its baseline values; see the module docstring for the rules."""
    if direction not in DIRECTIONS:
        raise ValueError(f"Unknown direction {direction!r}; use one of {', '.join(DIRECTIONS)}.")
    history = [float(v) for v in history if v is not None]
    if len(history) < max(1, min_history):
        return Score(value, None, None, None, "insufficient", direction, len(history))
    center = median(history)
    z = modified_z(value, history)
    level = "normal"
    signed_ok = direction == "both" or (direction == "up" and z > 0) or (direction == "down" and z < 0)
    if signed_ok and abs(value - center) >= min_gap:
        if abs(z) >= anomaly_z:
            level = "anomaly"
        elif abs(z) >= unusual_z:
            level = "unusual"
    return Score(value, center, mad(history, center), round(z, 3), level, direction, len(history))


def same_weekday_history(series, day, weeks=DEFAULT_WEEKS, skip=()):
    """Values of ``series`` (date -> count) on the same weekday of the ``weeks`` previous weeks."""
    skip = set(skip)
    days = (day - timedelta(weeks=w) for w in range(1, weeks + 1))
    return [series[d] for d in days if d in series and d not in skip]


def detect(series, days, kpi=None, direction=None, weeks=DEFAULT_WEEKS, skip=(), **options):
    """Score every day of ``days`` that has a value; return ``[(day, Score)]`` of the flagged/unusual ones."""
    direction = direction or KPI_DIRECTIONS.get(kpi, "both")
    skip = set(skip)
    found = []
    for day in days:
        if day not in series or day in skip:
            continue
        result = score(series[day], same_weekday_history(series, day, weeks, skip), direction, **options)
        if result.level in ("anomaly", "unusual"):
            found.append((day, result))
    return found
