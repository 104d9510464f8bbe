"""The live page's callbacks: numbers, partner table, charts drawn then patched, alerts."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
from dash import html
from dash.exceptions import PreventUpdate

from contract.registry import Registry
from tests.dashboard.builders import T0, build, chunk, texts


def test_live_outputs_in_chinese(pages, sample_snapshot):
    live, _, _ = pages
    out = live.live_outputs(sample_snapshot, None, "zh", (T0 + 15) * 1000)
    title, *labels = out[:5]
    assert title == "成都第八届社区邻里节"
    assert labels == ["在线人数", "峰值", "观看人次", "观众人数"]
    assert out[5:9] == ("9", "12", "13", "12")
    assert out[9] == "峰值时间 19:00:02"
    table, phone_list = out[10]
    assert isinstance(table, html.Table) and isinstance(phone_list, html.Ul)
    cells = texts(table)
    # bili: 5 of 9 concurrent; its newest arrival (T0+20) is ahead of now: live, age 0
    assert cells[7:14] == ["哔哩哔哩", "5", "55.6%", "5", "5", "直播中", "0"]
    assert "抖音" in cells and "安静台" in cells


def test_live_outputs_in_english_use_thousands_separators(pages):
    live, _, _ = pages
    big = build([chunk("douyin", 0, {T0: (1_032_000, 1_500_000, 1_200_000)})])
    out = live.live_outputs(big, "carnival", "en", (T0 + 1) * 1000)
    assert out[1:5] == ("Concurrent now", "Peak", "Views", "Uniques")
    assert out[5:9] == ("1,032,000", "1,032,000", "1,500,000", "1,200,000")
    zh = live.live_outputs(big, "carnival", "zh", (T0 + 1) * 1000)
    assert zh[5] == "103.2万"


def test_live_outputs_without_streams(pages):
    live, _, _ = pages
    empty = build([], reg=Registry())
    out = live.live_outputs(empty, None, "en", 0)
    assert out[0] == "No stream yet"


def test_refresh_numbers_skips_when_nothing_changed(pages):
    live, _, data = pages
    data.set(build([chunk("douyin", 0, {T0: (2, 2, 2)})]))  # no stats: ages stay "–"
    first = live.refresh_numbers(1, None, "zh", None)
    assert first[5] == "2"
    with pytest.raises(PreventUpdate):
        live.refresh_numbers(2, None, "zh", first[-1])
    switched = live.refresh_numbers(3, None, "en", first[-1])
    assert switched[1] == "Concurrent now"


def apply_patch(figure: dict, patch) -> dict:
    """Apply a dash ``Patch`` (Assign and Extend operations) to a figure dict."""
    for op in patch.to_plotly_json()["operations"]:
        *path, last = op["location"]
        target = figure
        for step in path:
            target = target[step]
        if op["operation"] == "Assign":
            target[last] = op["params"]["value"]
        else:
            assert op["operation"] == "Extend"
            target[last] = list(target[last]) + list(op["params"]["value"])
    return figure


def plain(figure) -> list:
    """Each trace's (name, x, y, hover texts) and the y axis's ticks, as plain lists."""
    figure = figure if isinstance(figure, dict) else figure.to_dict()
    traces = [
        (t["name"], [str(x) for x in t["x"]], list(t["y"]), list(t.get("customdata", [])))
        for t in figure["data"]
    ]
    axis = figure["layout"]["yaxis"]
    return [traces, list(axis["tickvals"]), list(axis["ticktext"])]


def test_charts_are_drawn_then_patched_and_equal_a_full_redraw(pages):
    live, _, data = pages
    first = build([chunk("douyin", 0, {T0: (3, 3, 3)}), chunk("bili", 0, {T0 + 1: (2, 2, 2)})])
    conc, views, state = live.chart_update(first, None, "en", "lines", None, T0 + 5)
    conc, views = go.Figure(conc), go.Figure(views)  # whole figures come as plain dicts
    assert [t.name for t in conc.data] == ["Total", "Bilibili", "Douyin"]
    assert list(conc.data[0].y) == [3, 5, 5, 5, 5, 5] and list(views.data[0].y)[-1] == 5
    with pytest.raises(PreventUpdate):  # nothing new: no update at all
        live.chart_update(first, None, "en", "lines", state, T0 + 5)
    later = build(
        [
            chunk("douyin", 0, {T0: (3, 3, 3), T0 + 7: (4, 4, 4)}),
            chunk("bili", 0, {T0 + 1: (2, 2, 2)}),
        ],
        version=2,
    )
    conc_patch, views_patch, new_state = live.chart_update(
        later, None, "en", "lines", state, T0 + 9
    )
    assert new_state["n"] == 10
    full_conc, full_views, _ = live.chart_update(later, None, "en", "lines", None, T0 + 9)
    assert plain(apply_patch(conc.to_dict(), conc_patch)) == plain(full_conc)
    assert plain(apply_patch(views.to_dict(), views_patch)) == plain(full_views)
    # A minute after the last full drawing, everything is drawn again.
    redrawn, _, again = live.chart_update(later, None, "en", "lines", new_state, T0 + 5 + 60)
    assert isinstance(redrawn, dict) and again["drawn_at"] == T0 + 65
    # Switching to stacked areas redraws, with partners in one stack group.
    stacked, _, _ = live.chart_update(later, None, "en", "stacked", new_state, T0 + 10)
    assert [t.stackgroup for t in go.Figure(stacked).data] == [None, "partners", "partners"]


@pytest.mark.parametrize("mode", ["lines", "stacked"])
def test_a_patch_past_the_top_tick_relabels_the_axis_as_a_redraw_would(pages, mode):
    live, _, _ = pages
    first = build([chunk("douyin", 0, {T0: (3, 3, 3)}), chunk("bili", 0, {T0 + 1: (2, 2, 2)})])
    conc, views, state = live.chart_update(first, None, "zh", mode, None, T0 + 5)
    assert conc["layout"]["yaxis"]["ticktext"] == ["0", "2", "4", "6"]
    grown = {T0: (3, 3, 3), T0 + 7: (150_000, 160_000, 150_000)}
    later = build([chunk("douyin", 0, grown), chunk("bili", 0, {T0 + 1: (2, 2, 2)})], version=2)
    conc_patch, views_patch, new_state = live.chart_update(later, None, "zh", mode, state, T0 + 9)
    assert new_state["tops"][0] >= 150_000
    full_conc, full_views, _ = live.chart_update(later, None, "zh", mode, None, T0 + 9)
    patched = plain(apply_patch(conc, conc_patch))
    assert patched == plain(full_conc)
    assert plain(apply_patch(views, views_patch)) == plain(full_views)
    assert "15万" in patched[2] and "15.0万" in patched[0][0][3]  # ticks and hover


def test_a_forged_chart_state_gets_a_full_redraw(pages):
    live, _, _ = pages
    snap = build([chunk("douyin", 0, {T0: (3, 3, 3)})])
    _, _, state = live.chart_update(snap, None, "en", "lines", None, T0 + 5)
    for tops in (None, [1], ["x", 2], [-1, 2], [10**20, 2]):
        again, _, _ = live.chart_update(snap, None, "en", "lines", {**state, "tops": tops}, T0 + 6)
        assert isinstance(again, dict)  # a whole figure, not a patch


def test_refresh_chart_uses_the_apps_data(pages):
    live, _, data = pages
    data.set(build([chunk("douyin", 0, {T0: (2, 2, 2)})], version=99))
    figure, views, state = live.refresh_chart(1, None, "en", "lines", None)
    figure, views = go.Figure(figure), go.Figure(views)
    assert figure.data[0].name == "Total" and max(figure.data[0].y) == 2
    assert views.layout.title.text == "Cumulative views"


def test_alerts_feed_on_the_live_page(pages):
    live, _, data = pages
    from dashboard.monitor import MonitorState

    state = MonitorState()
    state.put_alert(
        {
            "id": "x1",
            "at": (T0 + 60) * 1000,
            "raised_at": (T0 + 60) * 1000,
            "stream": "carnival",
            "platform": "douyin",
            "kind": "stale",
            "level": "warning",
            "message_zh": "<b>抖音</b> 延迟",
            "message_en": "Douyin is stale",
            "value": None,
        }
    )
    data.set_monitor(state.build())
    title, feed, modes, key = live.refresh_alerts(1, "carnival", "zh", None)
    assert title == "告警"
    assert texts(feed) == ["19:01:00", "警告", "<b>抖音</b> 延迟"]  # text, not markup
    assert [m["label"] for m in modes] == ["折线", "堆叠面积"]
    with pytest.raises(PreventUpdate):
        live.refresh_alerts(2, "carnival", "zh", key)
