"""Figure functions on small frames."""

from __future__ import annotations

from dashboard.figures import (
    CHART_MAX_POINTS,
    chart_width,
    concurrency_figure,
    concurrency_frame,
    empty_frame,
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


def test_chart_width_keeps_points_bounded():
    assert chart_width(0) == 1
    assert chart_width(CHART_MAX_POINTS - 1) == 1
    assert chart_width(10 * 3600) == 60
    for span in (1, 5_000, 86_400, 7 * 86_400, 100 * 86_400, 10 * 365 * 86_400, 2**40):
        assert span // chart_width(span) + 1 <= CHART_MAX_POINTS
