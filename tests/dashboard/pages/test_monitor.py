"""The monitor page's callbacks: partner, pipeline, history and alert sections from a
MonitorSnapshot built here, the empty state, language and skipped updates."""

from __future__ import annotations

import importlib

import pytest
from dash import html
from dash.exceptions import PreventUpdate

from contract.alerts import Alert
from contract.metrics import IngestMetrics, PipelineMetrics
from contract.registry import Registry
from dashboard.monitor import MonitorSnapshot, StatusChange
from tests.dashboard.builders import T0, build, chunk, stats, texts

NOW_MS = (T0 + 45) * 1000


@pytest.fixture
def monitor(pages):
    """The monitor page module as the app loaded it, and the app's data."""
    _, _, data = pages
    return importlib.import_module("dashboard.pages.monitor"), data


@pytest.fixture
def snapshot():
    """douyin reported (last arrival T0+10, 1,234 events); bili has data but no stats."""
    return build(
        [chunk("douyin", 0, {T0: (3, 3, 2)}), chunk("bili", 0, {T0 + 1: (5, 5, 5)})],
        stats=[stats("douyin", 0, arrival=(T0 + 10) * 1000, event=(T0 + 9) * 1000, events=1234)],
    )


def alert(alert_id, second, stream, level, zh, en):
    return Alert(alert_id, second * 1000, second * 1000, stream, None, "stale", level, zh, en, None)


@pytest.fixture
def state():
    return MonitorSnapshot(
        pipelines=(
            PipelineMetrics(
                "worker-1",
                (T0 + 20) * 1000,
                (0, 2),
                {0: 1500, 2: 7},
                {"p50": 12.4, "p95": 80.0},
                1234.56,
            ),
            PipelineMetrics("worker-2", (T0 + 44) * 1000, (), {}, {}, 0.0),
        ),
        ingest=(
            IngestMetrics("i1", "douyin", NOW_MS, 1000, {"bad_type": 3, "too_old": 0}),
            IngestMetrics("i2", "douyin", NOW_MS, 234, {"bad_type": 2, "stale": 1500}),
            IngestMetrics("i1", "quiet", NOW_MS, 0, {}),
        ),
        alerts=(
            alert("a2", T0 + 30, "carnival", "warning", "抖音数据延迟", "Douyin is stale"),
            alert("a1", T0 + 5, "other", "critical", "别处", "Elsewhere"),
        ),
        rates={("carnival", "douyin"): 12.345, ("other", "bili"): 99.0},
        history=(
            StatusChange("carnival", "douyin", (T0 + 40) * 1000, "stale", "live"),
            StatusChange("other", "bili", (T0 + 20) * 1000, "live", None),
            StatusChange("carnival", "douyin", (T0 + 10) * 1000, "live", None),
            StatusChange("carnival", "gone", (T0 + 9) * 1000, "offline", None),
        ),
    )


def rows(table):
    """The cell texts of each body row of a table."""
    body = table.children[1]
    return [texts(row) for row in body.children]


def test_monitor_outputs_in_english(monitor, snapshot, state):
    page, _ = monitor
    out = page.monitor_outputs(snapshot, state, None, "en", NOW_MS)
    assert len(out) == 9
    assert out[:5] == (
        "Partner monitor · 成都第八届社区邻里节",
        "Partners",
        "Pipeline",
        "Status history",
        "Alerts",
    )
    partners = out[5]
    assert isinstance(partners, html.Table) and partners.id == "monitor-partners"
    assert texts(partners.children[0]) == [
        "Partner",
        "Status",
        "Events/s",
        "Events",
        "Newest event (s ago)",
        "Accepted",
        "Rejected (by reason)",
    ]
    # Sorted by id; accepted and rejected summed over ingest instances, zero reasons left out.
    assert rows(partners) == [
        ["Bilibili", "offline", "–", "0", "–", "–", "–"],
        ["Douyin", "stale", "12.3", "1,234", "35", "1,234", "bad_type 5, stale 1,500"],
        ["Quiet TV", "offline", "–", "0", "–", "0", "–"],
    ]
    assert [row.id for row in partners.children[1].children] == [
        "monitor-row-bili",
        "monitor-row-douyin",
        "monitor-row-quiet",
    ]


def test_the_pipeline_section_lists_each_worker(monitor, snapshot, state):
    page, _ = monitor
    pipeline = page.monitor_outputs(snapshot, state, "carnival", "en", NOW_MS)[6]
    table = pipeline.children
    assert table.id == "monitor-pipeline"
    assert rows(table) == [
        ["worker-1", "0, 2", "1,507", "12/80/–", "1,234.6", "19:00:20 (25)"],
        ["worker-2", "–", "0", "–/–/–", "0.0", "19:00:44 (1)"],
    ]


def test_history_and_alerts_are_the_selected_streams_only_newest_first(monitor, snapshot, state):
    page, _ = monitor
    out = page.monitor_outputs(snapshot, state, "carnival", "en", NOW_MS)
    history, alerts = out[7], out[8]
    assert history.id == "monitor-history-list"
    assert [texts(item) for item in history.children] == [
        ["19:00:40", "Douyin", "live", " → ", "stale"],
        ["19:00:10", "Douyin", "live"],
        ["19:00:09", "gone", "offline"],  # a partner no longer registered: its id
    ]
    assert [texts(item) for item in alerts.children] == [["19:00:30", "warning", "Douyin is stale"]]


def test_monitor_outputs_in_chinese(monitor, snapshot, state):
    page, _ = monitor
    out = page.monitor_outputs(snapshot, state, "carnival", "zh", NOW_MS)
    assert out[:5] == (
        "合作平台监控 · 成都第八届社区邻里节",
        "合作平台",
        "处理管道",
        "状态变化",
        "告警",
    )
    assert rows(out[5])[1][:2] == ["抖音", "延迟"]
    assert texts(out[6])[:2] == ["处理进程", "分区"]
    assert texts(out[7].children[0]) == ["19:00:40", "抖音", "直播中", " → ", "延迟"]
    assert texts(out[8]) == ["19:00:30", "警告", "抖音数据延迟"]


@pytest.mark.parametrize("lang_value", [None, "fr", 1, {"lang": "en"}])
def test_any_language_but_en_is_chinese(monitor, snapshot, lang_value):
    page, _ = monitor
    out = page.monitor_outputs(snapshot, MonitorSnapshot(), None, lang_value, NOW_MS)
    assert out[1] == "合作平台"


def test_an_unknown_stream_falls_back_to_the_registered_one(monitor, snapshot, state):
    page, _ = monitor
    chosen = page.monitor_outputs(snapshot, state, "carnival", "en", NOW_MS)
    fallback = page.monitor_outputs(snapshot, state, "nope", "en", NOW_MS)
    assert repr(fallback) == repr(chosen)  # components compare by identity, not value


def test_an_empty_monitor_says_so_in_each_section(monitor, snapshot):
    page, _ = monitor
    out = page.monitor_outputs(snapshot, MonitorSnapshot(), None, "en", NOW_MS)
    assert rows(out[5])[1] == ["Douyin", "stale", "–", "1,234", "35", "–", "–"]
    assert texts(out[6]) == ["No worker has reported yet"]
    assert texts(out[7]) == ["No status changes yet"]
    assert texts(out[8]) == ["No alerts"]
    zh = page.monitor_outputs(snapshot, MonitorSnapshot(), None, "zh", NOW_MS)
    assert (texts(zh[6]), texts(zh[7])) == (["尚无处理进程上报"], ["尚无状态变化"])


def test_without_any_stream_the_pipeline_and_every_alert_are_still_shown(monitor, state):
    page, _ = monitor
    empty = build([], reg=Registry())
    out = page.monitor_outputs(empty, state, "carnival", "en", NOW_MS)
    assert out[:6] == (
        "Partner monitor",
        "Partners",
        "Pipeline",
        "Status history",
        "Alerts",
        "No stream yet",
    )
    assert texts(out[6])[6] == "worker-1"
    assert texts(out[7]) == ["No status changes yet"]
    assert [texts(item)[2] for item in out[8].children] == ["Douyin is stale", "Elsewhere"]
    bare = page.monitor_outputs(empty, MonitorSnapshot(), None, "en", NOW_MS)
    assert (texts(bare[6]), texts(bare[8])) == (["No worker has reported yet"], ["No alerts"])


def test_refresh_monitor_uses_the_apps_data_and_skips_when_nothing_changed(monitor):
    page, data = monitor
    data.set(build([chunk("douyin", 0, {T0: (2, 2, 2)})]))  # no stats, no workers: no ages
    first = page.refresh_monitor(1, None, "en", None)
    assert len(first) == 10
    assert first[0] == "Partner monitor · 成都第八届社区邻里节"
    assert first[-1] == repr(first[:-1])
    with pytest.raises(PreventUpdate):
        page.refresh_monitor(2, None, "en", first[-1])
    switched = page.refresh_monitor(3, None, "zh", first[-1])
    assert switched[1] == "合作平台" and switched[-1] != first[-1]
    data.set_monitor(MonitorSnapshot(alerts=(alert("a", T0, "carnival", "info", "开播", "Live"),)))
    moved = page.refresh_monitor(4, None, "en", first[-1])
    assert texts(moved[8]) == ["19:00:00", "info", "Live"]
