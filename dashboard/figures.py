"""Pure figure builders: a DataFrame in, a plotly figure out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go

from contract.programme import slots
from contract.registry import Segment
from dashboard.i18n import Lang, axis_labels, format_number, text
from dashboard.model import SeriesResult
from dashboard.svgcharts import nice_ceiling

__all__ = [
    "CHART_MAX_POINTS",
    "HOVER",
    "PARTNER_COLOURS",
    "add_segments",
    "chart_width",
    "chart_top",
    "concurrency_figure",
    "concurrency_frame",
    "empty_frame",
    "views_figure",
    "value_axis",
    "views_frame",
    "wall_clock",
]

CHART_MAX_POINTS = 1500
"""A chart line never has more points than this; longer streams use wider buckets."""
_WIDTHS = (1, 10, 60, 300, 900, 3600)

PARTNER_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#aec7e8", "#ffbb78", "#98df8a",
)  # fmt: skip
"""Partner lines in order, twelve apart before one repeats (plotly.js alone cycles ten, so
the eleventh partner wore the total's colour)."""
_TOTAL_COLOURS = {False: "#1b1f29", True: "#ffd34d"}
"""The total's thick line: near-black on the light page, the big numbers' gold on the wall."""

HOVER = "%{fullData.name}<br>%{x|%H:%M:%S} · %{customdata}<extra></extra>"
"""Every trace's hover: its name, the time and the value in the page's number format
(``customdata`` holds each point's value as ``format_number`` writes it)."""

_TIME_FORMATS = [
    {"dtickrange": [None, 60_000], "value": "%H:%M:%S"},
    {"dtickrange": [60_000, None], "value": "%H:%M"},
]
"""Time ticks as wall-clock time only: plotly's default adds the date on a second line,
under the first tick, where it ran into the legend."""


def wall_clock(moment: datetime) -> str:
    """A chart x value: the wall-clock time in the moment's own zone (plotly shows it as is)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def chart_width(span_s: int) -> int:
    """The narrowest bucket width that keeps a span within ``CHART_MAX_POINTS`` points."""
    for width in _WIDTHS:
        if span_s // width + 1 <= CHART_MAX_POINTS:
            return width
    # Longer than ~62 days (events may be dated far back): whole hours, still bounded.
    hours = -(-max(span_s, 0) // ((CHART_MAX_POINTS - 1) * 3600))
    return hours * 3600


def concurrency_frame(
    series: SeriesResult, names: Mapping[str, str], total_label: str
) -> pd.DataFrame:
    """Long frame (time, series, concurrent): the total first, then each partner.

    Each bucket is plotted at its peak so short spikes stay visible at coarse widths.
    """
    tz = ZoneInfo(series.stream.tz)
    rows: list[tuple[datetime, str, int]] = []
    parts = [(total_label, series.total)]
    parts += [(names.get(p, p), buckets) for p, buckets in series.platforms.items()]
    for label, buckets in parts:
        rows += [(datetime.fromtimestamp(b.start, tz), label, b.peak_concurrent) for b in buckets]
    return pd.DataFrame(rows, columns=["time", "series", "concurrent"])


def views_frame(series: SeriesResult, names: Mapping[str, str], total_label: str) -> pd.DataFrame:
    """Long frame (time, series, views): cumulative views at each bucket's end."""
    tz = ZoneInfo(series.stream.tz)
    rows: list[tuple[datetime, str, int]] = []
    parts = [(total_label, series.total)]
    parts += [(names.get(p, p), buckets) for p, buckets in series.platforms.items()]
    for label, buckets in parts:
        rows += [(datetime.fromtimestamp(b.start, tz), label, b.views) for b in buckets]
    return pd.DataFrame(rows, columns=["time", "series", "views"])


def empty_frame(column: str = "concurrent") -> pd.DataFrame:
    """A frame with the chart's columns and no rows."""
    return pd.DataFrame({"time": [], "series": [], column: []})


def value_axis(top: int, lang: Lang) -> dict[str, object]:
    """Ticks for a count axis from 0 past ``top``: about four steps of 1, 2, 2.5 or 5 x 10^k,
    labelled by ``axis_labels`` (plotly's own labels would be ``10k``, never ``1万``).

    One tick more than needed: plotly pads the range above the data, and ticks outside the
    range are not drawn.
    """
    step = nice_ceiling(max(top, 1) / 4)
    ticks = [i * step for i in range(max(top, 0) // step + 2)]
    return {"tickmode": "array", "tickvals": ticks, "ticktext": axis_labels(ticks, lang)}


def chart_top(frame: pd.DataFrame, column: str, total: str, *, stacked: bool) -> int:
    """The highest value a chart draws: the largest point, or of the stacked partners' sum."""
    if frame.empty:
        return 0
    top = int(frame[column].max())
    if stacked:
        partners = frame[frame["series"] != total]
        if not partners.empty:
            top = max(top, int(partners.groupby("time")[column].sum().max()))
    return top


def _series_figure(
    frame: pd.DataFrame,
    lang: Lang,
    *,
    column: str,
    title: str,
    dark: bool,
    total: str,
    stacked: bool,
) -> go.Figure:
    """One trace per series; stacked: partners as stacked areas under the total's line."""
    traces: list[dict[str, object]] = []
    partners = 0
    for name, group in frame.groupby("series", sort=False):
        is_total = name == total
        if is_total:
            colour = _TOTAL_COLOURS[dark]
        else:
            colour, partners = PARTNER_COLOURS[partners % len(PARTNER_COLOURS)], partners + 1
        area = stacked and not is_total
        times = group["time"]
        # Plain lists, not arrays: plotly would base64-encode arrays, and the live page
        # patches single points of these lists. They are built here already valid, so
        # plotly's per-element validation (most of the cost for long streams) is skipped.
        x = times.dt.tz_localize(None).dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
        y = [int(v) for v in group[column]]
        trace: dict[str, object] = {
            "type": "scatter",
            "x": x,
            "y": y,
            "customdata": [format_number(v, lang) for v in y],
            "hovertemplate": HOVER,
            "mode": "lines",
            "name": str(name),
            "line": {"width": 4 if is_total else 1.5, "shape": "hv", "color": colour},
        }
        if area:
            trace["stackgroup"] = "partners"
        traces.append(trace)
    fig = go.Figure(data=traces, _validate=False)
    top = chart_top(frame, column, total, stacked=stacked)
    fig.update_layout(
        template="plotly_dark" if dark else "plotly_white",
        # The title, axis titles and legend each push the margins (automargin), so none
        # can overlap another or the tick labels at any size.
        title={
            "text": title,
            "x": 0,
            "xanchor": "left",
            "y": 1,
            "yanchor": "bottom",
            "yref": "paper",
            "automargin": True,
            "pad": {"b": 12},
        },
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 0,
            "yanchor": "bottom",
            "yref": "container",
        },
        xaxis={
            "title": {"text": text("time", lang), "standoff": 8},
            "tickformatstops": _TIME_FORMATS,
            # Below the y axis's "0", which is centred on the x axis.
            "ticklabelstandoff": 10,
            "automargin": True,
        },
        yaxis={
            "title": {"text": text(column, lang), "standoff": 12},
            "rangemode": "tozero",
            # The ticks are computed for the data's top: a zoom between two of them would
            # leave the axis unlabelled, so only the time axis zooms.
            "fixedrange": True,
            "automargin": True,
            **value_axis(top, lang),
        },
        uirevision="keep",
    )
    if dark:
        # Spelled out: the figure goes to the browser with the template's name only, and
        # plotly.js alone would draw dark grey text on the dark wall.
        grid = {"gridcolor": "#1f2740", "linecolor": "#2a3350", "zerolinecolor": "#2a3350"}
        fig.update_layout(
            paper_bgcolor="#05070d",
            plot_bgcolor="#05070d",
            font={"size": 20, "color": "#c9d3e8"},
            title_font={"size": 30, "color": "#f2f5fb"},
            xaxis=grid,
            yaxis=grid,
        )
    if frame.empty:
        fig.add_annotation(text=text("no_data", lang), showarrow=False, font={"size": 18})
    return fig


def concurrency_figure(
    frame: pd.DataFrame,
    lang: Lang,
    *,
    dark: bool = False,
    total_label: str | None = None,
    stacked: bool = False,
) -> go.Figure:
    """Concurrent viewers over time: one line per series, the total drawn thicker."""
    total = total_label if total_label is not None else text("total", lang)
    return _series_figure(
        frame,
        lang,
        column="concurrent",
        title=text("chart.title", lang),
        dark=dark,
        total=total,
        stacked=stacked,
    )


def views_figure(
    frame: pd.DataFrame, lang: Lang, *, total_label: str | None = None, stacked: bool = False
) -> go.Figure:
    """Cumulative views over time, the total and each partner."""
    total = total_label if total_label is not None else text("total", lang)
    return _series_figure(
        frame,
        lang,
        column="views",
        title=text("cumulative.title", lang),
        dark=False,
        total=total,
        stacked=stacked,
    )


_BAND_FILLS = {False: ("#2563eb", "#f59e0b"), True: ("#60a5fa", "#fbbf24")}
"""Alternating segment band colours (light and dark charts), drawn faintly under the data."""


def add_segments(
    fig: go.Figure,
    programme: Sequence[Segment],
    start: int,
    end: int,
    tz: str,
    lang: Lang,
    *,
    dark: bool = False,
) -> go.Figure:
    """Draw the programme on a time chart: a faint band over each segment's time from
    ``start`` through ``end`` (epoch seconds, the chart's range), a dotted line where it
    begins and its title at the top. Nothing is drawn outside the range, so the bands
    never widen the x axis."""
    zone = ZoneInfo(tz)
    shapes: list[dict[str, object]] = []
    labels: list[dict[str, object]] = []
    for i, slot in enumerate(slots(programme)):
        if slot.start > end or (slot.end is not None and slot.end <= start):
            continue  # outside the chart
        left = max(slot.start, start)
        right = end if slot.end is None else min(slot.end, end)
        x0 = wall_clock(datetime.fromtimestamp(left, zone))
        x1 = wall_clock(datetime.fromtimestamp(right, zone))
        colour = _BAND_FILLS[dark][i % 2]
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": x0,
                "x1": x1,
                "y0": 0,
                "y1": 1,
                "fillcolor": colour,
                "opacity": 0.08,
                "line": {"width": 0},
                "layer": "below",
                "name": f"segment-{slot.segment.id}",
            }
        )
        if slot.start >= start:
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": x0,
                    "x1": x0,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": colour, "width": 1, "dash": "dot"},
                    "layer": "below",
                }
            )
        labels.append(
            {
                "x": x0,
                "xref": "x",
                "y": 1,
                "yref": "paper",
                "xanchor": "left",
                "yanchor": "top",
                "text": escape(slot.segment.display_title(lang)),
                "showarrow": False,
                "font": {"size": 22 if dark else 11, "color": colour},
                "bgcolor": "rgba(5,7,13,0.6)" if dark else "rgba(255,255,255,0.7)",
                "name": f"segment-{slot.segment.id}",
            }
        )
    fig.update_layout(shapes=shapes, annotations=[*fig.layout.annotations, *labels])
    return fig
