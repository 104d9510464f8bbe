"""The alert rules, table by table: status changes, drops, milestones, churn, one raise per id."""

from __future__ import annotations

import pytest

from contract.series import sum_steps
from stream.alerts import (
    AlertEvaluator,
    AlertRules,
    churning,
    drop_onset,
    milestones_between,
    status_of,
)
from stream.churn import RecentFigures

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


@pytest.mark.parametrize(
    ("single", "offline", "raised"),
    [
        (0, 0, False),
        (499, 499, False),  # all single, but fewer than 500
        (500, 500, True),
        (500, 625, True),  # exactly 80 %
        (500, 626, False),  # 79.9 %
        (800, 1000, True),
        (799, 1000, False),
    ],
)
def test_churn_thresholds_500_single_event_sessions_and_80_percent(single, offline, raised):
    assert churning(RecentFigures(NOW, offline, single), RULES) is raised
    alerts = AlertEvaluator(RULES).churn_alerts(
        {("show", "web"): RecentFigures(NOW, offline, single)}, NOW + 2_000
    )
    assert [a.kind for a in alerts] == (["churn"] if raised else [])


def test_churn_alert_names_the_cause_and_the_figures_once_per_episode():
    ev = AlertEvaluator(RULES)
    key = ("show", "web")
    alerts = ev.churn_alerts({key: RecentFigures(NOW + 250, 1_000, 900)}, NOW + 3_000)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.id == f"churn/show/web/{NOW // 1000}"
    assert (alert.kind, alert.level, alert.at, alert.value) == ("churn", "warning", NOW + 250, 900)
    assert (alert.stream, alert.platform, alert.raised_at) == ("show", "web", NOW + 3_000)
    assert "900 of 1,000" in alert.message_en and "90%" in alert.message_en
    assert "new session_id per heartbeat?" in alert.message_en
    assert "last 5 min" in alert.message_en
    assert "1,000" in alert.message_zh and "900" in alert.message_zh
    assert "session_id" in alert.message_zh and "90%" in alert.message_zh
    # While it holds, and when it lapses for less than 5 min of event time: nothing new.
    assert ev.churn_alerts({key: RecentFigures(NOW + 10_000, 2_000, 1_900)}, NOW + 12_000) == []
    assert ev.churn_alerts({key: RecentFigures(NOW + 60_000, 2_000, 100)}, NOW + 62_000) == []
    assert ev.churn_alerts({key: RecentFigures(NOW + 90_000, 2_000, 1_900)}, NOW + 92_000) == []
    # Lapsed for 5 min: the episode is over, and the next one is a new alert.
    assert ev.churn_alerts({key: RecentFigures(NOW + 390_000, 2_000, 10)}, NOW + 392_000) == []
    again = ev.churn_alerts({key: RecentFigures(NOW + 400_000, 2_000, 1_900)}, NOW + 402_000)
    assert [a.id for a in again] == [f"churn/show/web/{(NOW + 400_000) // 1000}"]


def test_churn_is_per_partner_and_a_well_behaved_one_gets_none():
    ev = AlertEvaluator(RULES)
    recent = {
        ("show", "buggy"): RecentFigures(NOW, 3_000, 2_990),
        ("show", "good"): RecentFigures(NOW, 3_000, 300),
        ("other", "buggy"): RecentFigures(None),
    }
    alerts = ev.evaluate({}, {}, {}, NOW + 2_000, recent)
    assert [(a.kind, a.stream, a.platform) for a in alerts] == [("churn", "show", "buggy")]


def test_a_restarted_evaluator_that_read_the_churn_alert_raises_it_not_again():
    first = AlertEvaluator(RULES)
    key = ("show", "web")
    raised = first.churn_alerts({key: RecentFigures(NOW, 1_000, 900)}, NOW + 2_000)
    again = AlertEvaluator(RULES)
    for alert in raised:
        again.remember(alert.to_json())
    assert again.churn_alerts({key: RecentFigures(NOW + 30_000, 1_000, 950)}, NOW + 32_000) == []


def test_old_churn_is_not_raised_after_a_restart():
    ev = AlertEvaluator(RULES)
    recent = {("show", "web"): RecentFigures(NOW, 1_000, 900)}
    assert ev.churn_alerts(recent, NOW + 2 * 3_600_000) == []


NAMES = {"kunming": ("昆明信息港", "Kunming Info Port")}


def named(platform: str) -> tuple[str, str]:
    return NAMES.get(platform, (platform, platform))


def test_every_kind_of_message_names_the_partner_and_keeps_its_id_in_the_fields():
    ev = AlertEvaluator(RULES, names=named)
    key = ("show", "kunming")
    s0 = NOW // 1000
    changes = {s0: (1000, 100_000, 0), s0 + 100: (-600, 0, 0)}
    alerts = [
        *ev.status_alerts({key: NOW}, NOW + 31_000),
        *ev.status_alerts({key: NOW}, NOW + 301_000),
        *ev.status_alerts({key: NOW + 400_000}, NOW + 401_000),
        *ev.series_alerts("show", "kunming", steps_of(changes), (s0 + 110) * 1000),
        *ev.churn_alerts({key: RecentFigures(NOW, 1_000, 900)}, NOW + 2_000),
    ]
    assert sorted(a.kind for a in alerts) == [
        "churn", "drop", "live", "milestone", "offline", "stale"
    ]  # fmt: skip
    for alert in alerts:
        assert alert.message_zh.startswith("昆明信息港 "), alert.message_zh
        assert alert.message_en.startswith("Kunming Info Port"), alert.message_en
        assert "kunming" not in alert.message_zh + alert.message_en
        assert alert.platform == "kunming" and "/kunming/" in alert.id
    drop = next(a for a in alerts if a.kind == "drop")
    assert drop.message_zh == "昆明信息港 在线人数 60 秒内下降 60%（1,000 → 400）"


def test_a_stream_total_is_all_partners_whatever_the_names():
    ev = AlertEvaluator(RULES, names=named)
    s0 = NOW // 1000
    (milestone,) = ev.series_alerts("show", None, steps_of({s0: (1, 100_000, 0)}), (s0 + 10) * 1000)
    # Counts as the dashboard writes them in each language (contract.numbers).
    assert milestone.message_zh == "全部平台 观看人次突破 10.0万"
    assert milestone.message_en == "all platforms passed 100,000 views"
