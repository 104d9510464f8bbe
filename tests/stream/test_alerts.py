"""The alert rules, table by table: status changes, drops, milestones, and one raise per id."""

from __future__ import annotations

import pytest

from stream.alerts import (
    AlertEvaluator,
    AlertRules,
    drop_onset,
    milestones_between,
    status_of,
)
from stream.merge import sum_steps

RULES = AlertRules()
NOW = 1_734_778_800_000  # a whole second


@pytest.mark.parametrize(
    ("age_ms", "status"),
    [(0, "live"), (29_999, "live"), (30_000, "stale"), (299_999, "stale"), (300_000, "offline")],
)
def test_status_by_age_of_newest_arrival(age_ms, status):
    assert status_of(NOW - age_ms, NOW, RULES) == status


W = RULES.drop_window_s


@pytest.mark.parametrize(
    ("values", "onset"),
    [
        # Steady: no drop.
        ([100] * (W + 30), None),
        # 100 → 70 is exactly 30 %: a drop, starting where it fell.
        ([100] * (W + 10) + [70] * 5, W + 10),
        # Not yet held for 5 seconds: none yet.
        ([100] * (W + 10) + [70] * 4, None),
        # 100 → 71 is 29 %: none.
        ([100] * (W + 10) + [71] * 5, None),
        # Below the 50-viewer floor: 40 → 0 is noise.
        ([40] * (W + 10) + [0] * 5, None),
        # At the floor: 50 → 35 counts.
        ([50] * (W + 10) + [35] * 5, W + 10),
        # Recovered by now: no current drop.
        ([100] * (W + 10) + [60] * 5 + [100], None),
        # Not enough history before the fall to tell when it began: not raised again.
        ([100] * W + [10] * (W + 5), None),
    ],
)
def test_drop_onset(values, onset):
    assert drop_onset(values, RULES) == onset


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 99_999, []),
        (0, 100_000, [100_000]),
        (99_999, 350_000, [100_000, 200_000, 300_000]),
        (950_000, 1_000_000, [1_000_000]),
        (100_000, 100_000, []),
    ],
)
def test_milestones_between(low, high, expected):
    assert milestones_between(low, high, RULES) == expected


def test_milestones_without_every_and_huge_jumps_are_bounded():
    only = AlertRules(milestone_every=0, milestones=(5, 50))
    assert milestones_between(0, 49, only) == [5]
    assert len(milestones_between(0, 10**12, RULES)) == 20


def steps_of(changes: dict[int, tuple[int, int, int]]):
    return sum_steps([changes])


def test_status_alerts_go_stale_offline_and_live_once_each():
    ev = AlertEvaluator(RULES)
    key = ("show", "web")
    arrival = NOW
    assert ev.status_alerts({key: arrival}, NOW + 1_000) == []
    stale = ev.status_alerts({key: arrival}, NOW + 31_000)
    assert [(a.kind, a.level, a.at) for a in stale] == [("stale", "warning", NOW + 30_000)]
    assert ev.status_alerts({key: arrival}, NOW + 32_000) == []
    offline = ev.status_alerts({key: arrival}, NOW + 301_000)
    assert [(a.kind, a.level) for a in offline] == [("offline", "critical")]
    back = ev.status_alerts({key: NOW + 400_000}, NOW + 401_000)
    assert [(a.kind, a.at, a.platform, a.stream) for a in back] == [
        ("live", NOW + 400_000, "web", "show")
    ]
    assert back[0].message_en and back[0].message_zh


def test_a_second_evaluator_that_read_the_published_alerts_raises_nothing_again():
    first = AlertEvaluator(RULES)
    key = ("show", "web")
    raised = first.status_alerts({key: NOW}, NOW + 31_000)
    again = AlertEvaluator(RULES)
    for alert in raised:
        again.remember(alert.to_json())
    assert again.status_alerts({key: NOW}, NOW + 35_000) == []


def test_old_conditions_are_not_raised_after_a_restart():
    ev = AlertEvaluator(RULES)
    assert ev.status_alerts({("show", "web"): NOW}, NOW + 2 * 3_600_000) == []


def test_drop_and_milestone_alerts_of_a_series():
    s0 = NOW // 1000
    fall = s0 + 100
    changes = {s0: (1000, 99_000, 0), s0 + 50: (0, 2_000, 0), fall: (-600, 0, 0)}
    ev = AlertEvaluator(RULES)
    now_ms = (fall + 5 + RULES.settle_s) * 1000
    alerts = ev.series_alerts("show", None, steps_of(changes), now_ms)
    by_kind = {a.kind: a for a in alerts}
    assert set(by_kind) == {"drop", "milestone"}
    drop = by_kind["drop"]
    assert drop.id == f"drop/show/_total/{fall}"
    assert drop.at == fall * 1000 and drop.value == 400 and drop.platform is None
    assert "60%" in drop.message_en and "60%" in drop.message_zh
    milestone = by_kind["milestone"]
    assert milestone.id == "milestone/show/_total/100000"
    assert milestone.at == (s0 + 50) * 1000 and milestone.value == 100_000
    # Evaluating again a second later raises nothing new.
    assert ev.series_alerts("show", None, steps_of(changes), now_ms + 1000) == []


def test_alert_json_has_the_published_fields():
    ev = AlertEvaluator(RULES)
    alert = ev.status_alerts({("show", "web"): NOW}, NOW + 31_000)[0]
    assert set(alert.to_json()) == {
        "id",
        "at",
        "raised_at",
        "stream",
        "platform",
        "kind",
        "level",
        "message_zh",
        "message_en",
        "value",
    }
