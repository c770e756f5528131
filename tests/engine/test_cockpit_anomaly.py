"""Same-weekday median / MAD and the modified z-score on known series (engine/anomaly.py)."""
from datetime import date, timedelta

import pytest

from maildesk_mail_client_cockpit.engine import anomaly

MON = date(2026, 3, 2)  # a Monday


def test_median_and_mad_of_a_known_series():
    history = [10, 12, 11, 13, 12]
    assert anomaly.median(history) == 12
    assert anomaly.mad(history) == 1  # deviations 2, 0, 1, 1, 0


def test_modified_z_is_0_6745_times_distance_over_mad():
    assert anomaly.modified_z(20, [10, 12, 11, 13, 12]) == pytest.approx(0.6745 * 8)
    assert anomaly.modified_z(4, [10, 12, 11, 13, 12]) == pytest.approx(-0.6745 * 8)


def test_zero_mad_falls_back_to_mean_absolute_deviation():
    """10, 10, 10, 12: MAD 0, MeanAD 0.5, so M = (14 - 10) / (1.253314 * 0.5)."""
    assert anomaly.modified_z(14, [10, 10, 10, 12]) == pytest.approx(4 / (1.253314 * 0.5))


def test_flat_baseline_uses_the_floor():
    assert anomaly.modified_z(14, [10, 10, 10]) == pytest.approx(0.6745 * 4 / 1.0)
    assert anomaly.modified_z(130, [100, 100, 100]) == pytest.approx(0.6745 * 30 / 10.0)


def test_levels_anomaly_unusual_normal():
    history = [10, 12, 11, 13, 12]
    assert anomaly.score(20, history).level == "anomaly"  # z 5.40
    assert anomaly.score(16, history, min_gap=0).level == "unusual"  # z 2.70
    assert anomaly.score(13, history).level == "normal"
    result = anomaly.score(20, history)
    assert (result.median, result.mad, result.z, result.history) == (12, 1, 5.396, 5)
    assert result.flagged


def test_minimum_history():
    """Fewer than three baseline values: never flagged, said so."""
    result = anomaly.score(100, [10, 11])
    assert result.level == "insufficient" and result.z is None and not result.flagged
    assert anomaly.score(100, [10, 11, 12]).level == "anomaly"


def test_small_counts_need_an_absolute_gap():
    """0, 0, 0 then 2: z is large but two mails are not an anomaly."""
    assert anomaly.score(2, [0, 0, 0]).level == "normal"
    assert anomaly.score(9, [0, 0, 0]).level == "anomaly"


def test_direction_aware():
    history = [10, 12, 11, 13, 12]
    assert anomaly.score(30, history, "up").level == "anomaly"
    assert anomaly.score(30, history, "down").level == "normal"
    assert anomaly.score(0, history, "down").level == "anomaly"
    assert anomaly.score(0, history, "up").level == "normal"
    assert anomaly.score(0, history, "both").level == "anomaly"
    with pytest.raises(ValueError, match="Unknown direction"):
        anomaly.score(0, history, "sideways")


def test_same_weekday_history_skips_days_off_and_gaps():
    series = {MON - timedelta(weeks=w): 10 + w for w in range(1, 9)}
    series[MON - timedelta(days=1)] = 999  # a Sunday: not the same weekday
    del series[MON - timedelta(weeks=3)]
    history = anomaly.same_weekday_history(series, MON, weeks=4, skip={MON - timedelta(weeks=2)})
    assert history == [11, 14]


def test_detect_over_a_month_with_weekly_seasonality():
    """Mondays are busy (40), other days quiet (10): a busy Monday is normal, a busy Wednesday is not."""
    series = {}
    for offset in range(-70, 1):
        day = MON + timedelta(days=offset)
        series[day] = 40 if day.weekday() == 0 else 10
    spike = MON - timedelta(days=5)  # a Wednesday
    series[spike] = 40
    drop = MON - timedelta(days=14)  # a Monday with few incoming mails: not flagged for an "up" KPI
    series[drop] = 5
    days = [MON - timedelta(days=d) for d in range(30)]
    found = anomaly.detect(series, days, kpi="incoming")
    assert [day for day, _ in found] == [spike]
    assert found[0][1].level == "anomaly" and found[0][1].median == 10
    found_both = {day for day, _ in anomaly.detect(series, days, direction="both")}
    assert found_both == {spike, drop}
