"""Pure figure builders: a DataFrame in, a plotly figure out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go

from dashboard.i18n import Lang, text
from dashboard.model import SeriesResult

__all__ = [
    "CHART_MAX_POINTS",
    "chart_width",
    "concurrency_figure",
    "concurrency_frame",
    "empty_frame",
    "views_figure",
    "views_frame",
    "wall_clock",
]

CHART_MAX_POINTS = 1500
"""A chart line never has more points than this; longer streams use wider buckets."""
_WIDTHS = (1, 10, 60, 300, 900, 3600)


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
    for name, group in frame.groupby("series", sort=False):
        is_total = name == total
        area = stacked and not is_total
        times = group["time"]
        # Plain lists, not arrays: plotly would base64-encode arrays, and the live page
        # patches single points of these lists. They are built here already valid, so
        # plotly's per-element validation (most of the cost for long streams) is skipped.
        x = times.dt.tz_localize(None).dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
        trace: dict[str, object] = {
            "type": "scatter",
            "x": x,
            "y": [int(v) for v in group[column]],
            "mode": "lines",
            "name": str(name),
            "line": {"width": 4 if is_total else 1.5, "shape": "hv"},
        }
        if area:
            trace["stackgroup"] = "partners"
        traces.append(trace)
    fig = go.Figure(data=traces, _validate=False)
    fig.update_layout(
        template="plotly_dark" if dark else "plotly_white",
        title={"text": title},
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.15},
        xaxis={"title": {"text": text("time", lang)}},
        yaxis={"title": {"text": text(column, lang)}, "rangemode": "tozero"},
        uirevision="keep",
    )
    if dark:
        fig.update_layout(paper_bgcolor="#05070d", plot_bgcolor="#05070d", font={"size": 20})
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
