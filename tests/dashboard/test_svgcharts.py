"""The report's SVG charts: a nice y-axis top, step or straight lines, escaped text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.svgcharts import line_chart_svg, nice_ceiling
from tests.dashboard.builders import T0


def test_svg_chart_scales_to_a_nice_ceiling_and_escapes_its_title():
    svg = line_chart_svg([T0, T0 + 60], [3, 12], title="<b>", tz="Asia/Shanghai")
    assert "&lt;b&gt;" in svg and "<b>" not in svg
    assert ">20<" in svg  # the y axis top for a maximum of 12
    assert ">19:00<" in svg and ">19:01<" in svg
    assert nice_ceiling(0) == 1
    assert [nice_ceiling(v) for v in (1, 3, 12, 21, 240, 1_032_000)] == [
        1,
        5,
        20,
        25,
        250,
        2_000_000,
    ]
    with pytest.raises(ValueError):
        line_chart_svg([1], [], title="", tz="UTC")


def _nice_numbers(limit: int) -> list[int]:
    """Every 1, 2, 5 x 10^k and, from 10 on, 2.5 x 10^k, up to ``limit``, ascending."""
    found = set()
    magnitude = 1
    while magnitude <= limit:
        steps = (1.0, 2.0, 2.5, 5.0) if magnitude >= 10 else (1.0, 2.0, 5.0)
        found.update(int(step * magnitude) for step in steps)
        magnitude *= 10
    return sorted(found)


NICE = _nice_numbers(10**13)


@given(st.floats(min_value=0.001, max_value=10**12, allow_nan=False))
def test_the_ceiling_is_the_smallest_nice_number_at_or_above_the_value(value):
    top = nice_ceiling(value)
    assert top in NICE and top >= value
    assert all(smaller < value for smaller in NICE[: NICE.index(top)])


@pytest.mark.parametrize("value", [0, -3, -0.5])
def test_nothing_to_show_still_has_an_axis_of_one(value):
    assert nice_ceiling(value) == 1


def _points(svg: str) -> list[tuple[float, float]]:
    match = re.search(r'<polyline points="([^"]+)"', svg)
    assert match is not None
    return [tuple(map(float, pair.split(","))) for pair in match.group(1).split()]


def test_a_step_chart_holds_each_value_until_the_next_second():
    svg = line_chart_svg([T0, T0 + 10, T0 + 20], [4, 8, 2], title="t", tz="UTC")
    points = _points(svg)
    assert len(points) == 5
    assert points[1] == (points[2][0], points[0][1])  # 4 held until T0+10
    assert points[3] == (points[4][0], points[2][1])  # 8 held until T0+20
    straight = _points(
        line_chart_svg([T0, T0 + 10, T0 + 20], [4, 8, 2], title="t", tz="UTC", step=False)
    )
    assert len(straight) == 3 and straight == [points[0], points[2], points[4]]


def test_the_series_spans_the_plot_and_its_maximum_reaches_the_top():
    points = _points(line_chart_svg([T0, T0 + 30], [0, 10], title="t", tz="UTC", step=False))
    (x0, y0), (x1, y1) = points
    assert (x0, x1) == (64.0, 624.0)  # the left and right edges of the plot area
    assert (y0, y1) == (226.0, 30.0)  # zero on the baseline, 10 (the top) at the top


def test_an_empty_chart_has_its_axis_and_a_dash_but_no_line():
    svg = line_chart_svg([], [], title="空", tz="Asia/Shanghai")
    assert "<polyline" not in svg and ">–</text></svg>" in svg
    assert svg.count('class="lt-svg-grid"') == 3
    assert 'aria-label="空"' in svg


def test_the_colour_is_escaped_too():
    svg = line_chart_svg([T0], [1], title="t", tz="UTC", color='"><script>')
    assert "<script>" not in svg and "&quot;&gt;&lt;script&gt;" in svg


def test_y_ticks_follow_the_number_rule_of_the_language():
    values = [0, 1_032_000]
    zh = line_chart_svg([T0, T0 + 60], values, title="", tz="UTC", lang="zh")
    en = line_chart_svg([T0, T0 + 60], values, title="", tz="UTC", lang="en")
    ticks = re.compile(r'class="lt-svg-tick"[^>]*>([^<]+)<')
    assert ticks.findall(zh)[:3] == ["0", "100万", "200万"]
    assert ticks.findall(en)[:3] == ["0", "1M", "2M"]
