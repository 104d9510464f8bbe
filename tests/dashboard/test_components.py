"""Page pieces built from a snapshot: ids, order, text (never markup), dashes for nothing."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
from dash import html

from contract.alerts import Alert
from contract.metrics import IngestMetrics, PipelineMetrics
from contract.registry import Registry
from dashboard import components
from dashboard.model import summarize
from dashboard.monitor import MonitorSnapshot, StatusChange
from tests.dashboard.builders import T0, build, chunk, texts

NOW = T0 + 15
NOW_MS = NOW * 1000


def rows(table: html.Table) -> list[list[str]]:
    """The text of each row's cells, the header first."""
    head, body = table.children
    return [texts(head)] + [
        [t for cell in row.children for t in texts(cell)] for row in body.children
    ]


@pytest.fixture
def summary(sample_snapshot):
    return summarize(sample_snapshot, "carnival", NOW, NOW_MS)


def test_a_stat_card_has_the_ids_its_callbacks_fill():
    card = components.stat_card("live", "peak", with_note=True)
    assert [c.id for c in card.children] == [
        "live-label-peak",
        "live-total-peak",
        "live-total-peak-at",
    ]
    assert texts(card) == ["–"]
    assert len(components.stat_card("screen", "views").children) == 2


@pytest.mark.parametrize(
    ("second", "tz", "shown"),
    [(T0, "Asia/Shanghai", "19:00:00"), (T0 + 61, "UTC", "11:01:01"), (None, "UTC", "–")],
)
def test_clock_time_is_the_streams_local_time(second, tz, shown):
    assert components.clock_time(second, tz) == shown


def test_a_status_badge_is_coloured_by_status():
    badge = components.status_badge("stale", "en")
    assert "lt-badge-stale" in badge.className and texts(badge) == ["stale"]


def test_the_partner_table_is_ordered_by_concurrent_with_shares(summary):
    table = rows(components.partner_table(summary, "en", NOW_MS))
    assert len(table[0]) == 7
    assert [row[0] for row in table[1:]] == ["Bilibili", "Douyin", "Quiet TV"]
    assert table[1][1:3] == ["5", "55.6%"]
    assert [row[0] for row in rows(components.partner_table(summary, "zh", NOW_MS))[1:]] == [
        "哔哩哔哩",
        "抖音",
        "安静台",
    ]


def test_the_stream_chosen_is_the_selected_one_else_the_most_recent():
    snapshot = build(
        [
            chunk("douyin", 0, {T0: (1, 1, 1)}, stream="carnival"),
            chunk("douyin", 0, {T0 + 900: (1, 1, 1)}, stream="encore"),
        ]
    )
    options = components.options_for_streams(snapshot)
    assert [o["value"] for o in options] == ["encore", "carnival"]
    assert options[1]["label"] == "成都第八届社区邻里节"
    assert components.resolve_stream(snapshot, "carnival") == "carnival"
    assert components.resolve_stream(snapshot, "gone") == "encore"
    assert components.resolve_stream(snapshot, None) == "encore"


def test_no_stream_at_all_gives_none_and_an_empty_chart():
    empty = build([], reg=Registry())
    assert components.resolve_stream(empty, None) is None
    figure = components.chart_for(empty, None, "en", NOW)
    assert isinstance(figure, go.Figure)
    assert all(len(trace.y or ()) == 0 for trace in figure.data)


def test_the_chart_has_a_total_and_one_line_per_partner(sample_snapshot):
    figure = components.chart_for(sample_snapshot, None, "en", NOW)
    names = [trace.name for trace in figure.data]
    assert names[0] == "Total" and {"Douyin", "Bilibili"} <= set(names)
    total = figure.data[0]
    assert max(total.y) == 12  # the peak at T0+2


def test_partner_names_follow_the_language(summary):
    assert components.partner_names(summary, "en")["bili"] == "Bilibili"
    assert components.partner_names(summary, "zh")["bili"] == "哔哩哔哩"


def _alert(message_zh: str, message_en: str, at_ms: int) -> Alert:
    return Alert(
        "a1", at_ms, at_ms, "carnival", "douyin", "stale", "warning", message_zh, message_en, None
    )


def test_alerts_are_text_with_their_local_time_and_level():
    feed = components.alerts_feed(
        [_alert("<b>抖音</b> 延迟", "Douyin is stale", T0 * 1000)], "en", "UTC"
    )
    assert texts(feed) == ["11:00:00", "warning", "Douyin is stale"]
    assert "lt-level-warning" in feed.children[0].children[1].className
    assert "lt-muted" in components.alerts_feed([], "en", "UTC").className


def test_the_monitor_table_sums_ingest_counts_and_lists_rejections(summary):
    monitor = MonitorSnapshot(
        ingest=(
            IngestMetrics("i1", "douyin", NOW_MS, 10, {"bad_ts": 2, "rate": 0}),
            IngestMetrics("i2", "douyin", NOW_MS, 5, {"bad_ts": 1, "dup": 4}),
        ),
        rates={("carnival", "douyin"): 12.25},
    )
    table = components.monitor_partner_table(summary, monitor, "en", NOW_MS)
    assert table.id == "monitor-partners"
    by_id = {
        row.id: [t for cell in row.children for t in texts(cell)]
        for row in table.children[1].children
    }
    assert list(by_id) == ["monitor-row-bili", "monitor-row-douyin", "monitor-row-quiet"]
    douyin = by_id["monitor-row-douyin"]
    assert douyin[2] == "12.2" and douyin[5] == "15"
    assert douyin[6] == "bad_ts 3, dup 4"  # a zero count is left out
    assert by_id["monitor-row-bili"][2] == "–" and by_id["monitor-row-bili"][5:] == ["–", "–"]


def test_the_monitor_table_leaves_out_ingest_counts_not_shown_and_says_why(summary):
    monitor = MonitorSnapshot(
        ingest=(IngestMetrics("i1", "douyin", NOW_MS, 10, {"bad_ts": 2}),), ingest_shown=False
    )
    block = components.monitor_partner_table(summary, monitor, "en", NOW_MS)
    table, note = block.children
    assert [texts(th)[0] for th in table.children[0].children.children] == [
        "Partner", "Status", "Events/s", "Events", "Newest event (s ago)",
    ]  # fmt: skip
    assert all(len(row.children) == 5 for row in table.children[1].children)
    assert "not shown to tokens limited to streams" in note.children


def test_the_pipeline_table_shows_each_workers_lag_and_latency():
    worker = PipelineMetrics(
        "w1", NOW_MS - 3000, (0, 1), {0: 1200, 1: 34}, {"p50": 8.0, "p99": 40.4}, 950.0
    )
    table = components.pipeline_table(
        MonitorSnapshot(pipelines=(worker,)), "en", NOW_MS, "UTC"
    ).children
    assert table.id == "monitor-pipeline"
    assert rows(table)[1] == ["w1", "0, 1", "1,234", "8/–/40", "950.0", "11:00:12 (3)"]
    empty = components.pipeline_table(MonitorSnapshot(), "en", NOW_MS, "UTC")
    assert "lt-muted" in empty.className


def test_status_history_shows_the_change_and_the_first_status_alone():
    changes = [
        StatusChange("carnival", "douyin", T0 * 1000, "stale", "live"),
        StatusChange("carnival", "gone", T0 * 1000, "live", None),
    ]
    listing = components.history_list(changes, {"douyin": "Douyin"}, "en", "UTC")
    assert listing.id == "monitor-history-list"
    first, second = listing.children
    assert texts(first) == ["11:00:00", "Douyin", "live", " → ", "stale"]
    assert texts(second) == ["11:00:00", "gone", "live"]
    assert "lt-muted" in components.history_list([], {}, "en", "UTC").className


def test_the_phone_list_has_one_row_per_partner_in_the_short_number_style():
    snapshot = build(
        [
            chunk("douyin", 0, {T0: (123_456, 1_032_999, 999_999)}),
            chunk("bili", 0, {T0: (8_431, 9_000, 8_500)}),
        ]
    )
    summary = summarize(snapshot, "carnival", T0 + 1, (T0 + 1) * 1000)
    en = components.partner_list(summary, "en")
    assert en.className == "lt-plist"
    douyin, bili, quiet = (texts(row) for row in en.children)
    assert douyin[:3] == ["Douyin", "123.4k", "93.6%"]
    assert douyin[-1] == "Views 1.0M · Uniques 999.9k"
    assert bili[:2] == ["Bilibili", "8,431"] and quiet[:2] == ["Quiet TV", "0"]
    zh = [texts(row) for row in components.partner_list(summary, "zh").children]
    assert zh[0][:2] == ["抖音", "12.3万"] and zh[0][-1] == "观看人次 103.2万 · 观众人数 99.9万"


def test_monitor_numbers_follow_the_language_rule():
    worker = PipelineMetrics("w1", NOW_MS, (0,), {0: 123_456}, {"p50": 8.0}, 234_567.8)
    zh = rows(
        components.pipeline_table(
            MonitorSnapshot(pipelines=(worker,)), "zh", NOW_MS, "UTC"
        ).children
    )
    en = rows(
        components.pipeline_table(
            MonitorSnapshot(pipelines=(worker,)), "en", NOW_MS, "UTC"
        ).children
    )
    assert zh[1][2] == "12.3万" and zh[1][4] == "23.4万"
    assert en[1][2] == "123,456" and en[1][4] == "234,567.8"
