"""Figure functions on small frames."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard.figures import (
    CHART_MAX_POINTS,
    HOVER,
    PARTNER_COLOURS,
    chart_top,
    chart_width,
    concurrency_figure,
    concurrency_frame,
    empty_frame,
    value_axis,
)
from dashboard.model import stream_series
from tests.dashboard.builders import T0


def test_frame_has_total_first_then_each_partner(sample_snapshot):
    series = stream_series(
        sample_snapshot, "carnival", width=10, start=T0, end=T0 + 29, max_buckets=10
    )
    frame = concurrency_frame(series, {"douyin": "抖音", "bili": "哔哩哔哩"}, "合计")
    assert list(frame["series"].unique()) == ["合计", "哔哩哔哩", "抖音"]
    total = frame[frame["series"] == "合计"]["concurrent"].tolist()
    assert total == [12, 9, 4]  # bucket peaks
    assert str(frame["time"].iloc[0]) == "2024-12-21 19:00:00+08:00"


def test_figure_draws_one_line_per_series_with_the_total_thicker(sample_snapshot):
    series = stream_series(
        sample_snapshot, "carnival", width=10, start=T0, end=T0 + 29, max_buckets=10
    )
    frame = concurrency_frame(series, {}, "Total")
    fig = concurrency_figure(frame, "en", total_label="Total")
    names = [trace.name for trace in fig.data]
    assert names == ["Total", "bili", "douyin"]
    assert fig.data[0].line.width > fig.data[1].line.width
    assert list(fig.data[0].y) == [12, 9, 4]
    assert fig.layout.title.text == "Concurrent viewers over time"


def test_empty_frame_gives_an_annotated_empty_chart():
    fig = concurrency_figure(empty_frame(), "zh", dark=True)
    assert len(fig.data) == 0
    assert fig.layout.annotations[0].text == "暂无数据"
    assert fig.layout.paper_bgcolor == "#05070d"
    assert fig.to_plotly_json()["layout"]["font"]["color"] == "#c9d3e8"  # light on the wall


def test_chart_width_keeps_points_bounded():
    assert chart_width(0) == 1
    assert chart_width(CHART_MAX_POINTS - 1) == 1
    assert chart_width(10 * 3600) == 60
    for span in (1, 5_000, 86_400, 7 * 86_400, 100 * 86_400, 10 * 365 * 86_400, 2**40):
        assert span // chart_width(span) + 1 <= CHART_MAX_POINTS


@pytest.mark.parametrize(
    ("top", "lang", "ticks", "labels"),
    [
        (0, "zh", [0, 1], ["0", "1"]),
        (5, "en", [0, 2, 4, 6], ["0", "2", "4", "6"]),
        (1_436, "en", [0, 500, 1000, 1500], ["0", "500", "1,000", "1,500"]),
        (135_000, "zh", [0, 50_000, 100_000, 150_000], ["0", "5万", "10万", "15万"]),
        (135_000, "en", [0, 50_000, 100_000, 150_000], ["0", "50k", "100k", "150k"]),
        (1_200_000, "zh", [0, 500_000, 1_000_000, 1_500_000], ["0", "50万", "100万", "150万"]),
    ],
)
def test_the_value_axis_has_round_ticks_past_the_top_in_the_number_rule(top, lang, ticks, labels):
    axis = value_axis(top, lang)
    assert axis == {"tickmode": "array", "tickvals": ticks, "ticktext": labels}
    assert ticks[-1] > top  # the padded range above the data is labelled too


def frame_of(rows):
    return pd.DataFrame(
        [(pd.Timestamp(t, tz="Asia/Shanghai"), s, v) for t, s, v in rows],
        columns=["time", "series", "concurrent"],
    )


def test_hover_shows_each_value_in_the_number_rule_and_the_axis_is_labelled_with_it():
    frame = frame_of(
        [
            ("2024-12-21 19:00", "合计", 8_431),
            ("2024-12-21 19:01", "合计", 1_032_999),
            ("2024-12-21 19:00", "抖音", 8_431),
            ("2024-12-21 19:01", "抖音", 1_032_999),
        ]
    )
    fig = concurrency_figure(frame, "zh", total_label="合计")
    assert list(fig.data[0].customdata) == ["8,431", "103.2万"]
    assert fig.data[0].hovertemplate == HOVER and "%{customdata}" in HOVER
    assert fig.layout.yaxis.ticktext[-1].endswith("万")
    en = concurrency_figure(frame, "en", total_label="Total")
    assert list(en.data[0].customdata) == ["8,431", "1,032,999"]


def test_titles_legend_and_axes_push_the_margins_instead_of_overlapping():
    fig = concurrency_figure(empty_frame(), "en", dark=True)
    layout = fig.layout
    assert layout.title.automargin and layout.title.yref == "paper"
    assert layout.xaxis.automargin and layout.yaxis.automargin
    assert layout.legend.yref == "container" and layout.legend.yanchor == "bottom"
    # Wall-clock ticks only: plotly's default date line under the first tick is gone.
    assert {stop.value for stop in layout.xaxis.tickformatstops} == {"%H:%M:%S", "%H:%M"}


def test_the_stacked_top_is_the_partners_sum():
    frame = frame_of(
        [
            ("2024-12-21 19:00", "Total", 10),
            ("2024-12-21 19:00", "a", 7),
            ("2024-12-21 19:00", "b", 6),
            ("2024-12-21 19:01", "Total", 11),
            ("2024-12-21 19:01", "a", 1),
            ("2024-12-21 19:01", "b", 1),
        ]
    )
    assert chart_top(frame, "concurrent", "Total", stacked=False) == 11
    assert chart_top(frame, "concurrent", "Total", stacked=True) == 13
    assert chart_top(empty_frame(), "concurrent", "Total", stacked=True) == 0


def test_segments_are_bands_starts_and_titles_within_the_chart_only():
    from contract.registry import Segment
    from dashboard.figures import add_segments, concurrency_figure, empty_frame

    t0 = 1_734_778_800  # 19:00 in Asia/Shanghai
    before = Segment("warmup", "carnival", t0 - 600, "暖场", end=t0 - 60)
    opening = Segment("opening", "carnival", t0 - 60, "开幕式", "Opening <ceremony>")
    dance = Segment("dance", "carnival", t0 + 600, "街舞")
    later = Segment("choir", "carnival", t0 + 7200, "合唱")
    fig = add_segments(
        concurrency_figure(empty_frame(), "en"),
        [later, dance, opening, before],
        t0,
        t0 + 3600,
        "Asia/Shanghai",
        "en",
    )
    layout = fig.to_plotly_json()["layout"]
    bands = [s for s in layout["shapes"] if s["type"] == "rect"]
    assert [(b["x0"], b["x1"]) for b in bands] == [
        ("2024-12-21 19:00:00", "2024-12-21 19:10:00"),  # clipped to the chart's start
        ("2024-12-21 19:10:00", "2024-12-21 20:00:00"),  # the open one, to its end
    ]
    starts = [s["x0"] for s in layout["shapes"] if s["type"] == "line"]
    assert starts == ["2024-12-21 19:10:00"]  # the opening began before the chart
    titles = [a["text"] for a in layout["annotations"] if a.get("name", "").startswith("segment")]
    assert titles == ["Opening &lt;ceremony&gt;", "街舞"]


def test_the_total_and_a_dozen_partners_each_have_their_own_colour():
    rows = [("2024-12-21 19:00", name, 1) for name in ["Total", *(f"p{i}" for i in range(12))]]
    for dark in (False, True):
        fig = concurrency_figure(frame_of(rows), "en", dark=dark, total_label="Total")
        colours = [trace.line.color for trace in fig.data]
        assert len(set(colours)) == 13
        assert colours[1:] == list(PARTNER_COLOURS)
