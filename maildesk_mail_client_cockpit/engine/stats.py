"""Summary statistics of duration samples, the way PostgreSQL's ``percentile_cont`` does them.

``percentile(values, p)``: linear interpolation between the closest ranks (position
``p * (n - 1)`` in the sorted list), so the median of 1, 2, 3, 4 is 2.5 and the engine and the
SQL aggregates agree to the second.
"""
import math


def percentile(values, p):
    return percentile_sorted(sorted(v for v in values if v is not None), p)


def percentile_sorted(data, p):
    """PostgreSQL's ``percentile_cont`` over already sorted ``data``: linear between ranks."""
    if not data:
        return None
    if not 0 <= p <= 1:
        raise ValueError(f"percentile must be within 0..1, got {p}")
    position = p * (len(data) - 1)
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(data[low])
    return data[low] + (data[high] - data[low]) * (position - low)


def mean(values):
    data = [v for v in values if v is not None]
    return sum(data) / len(data) if data else None


def summary(values):
    """``{count, median, p90, mean}`` of a sample (None when it is empty)."""
    data = [v for v in values if v is not None]
    return {"count": len(data), "median": percentile(data, 0.5), "p90": percentile(data, 0.9), "mean": mean(data)}


def trend(current, previous):
    """Change against the previous equal period: ``{delta, percent}`` (percent None from 0)."""
    if current is None or previous is None:
        return {"delta": None, "percent": None}
    delta = current - previous
    percent = round(100.0 * delta / previous, 1) if previous else None
    return {"delta": delta, "percent": percent}
