"""Reusable page pieces: number cards, the partner table, badges, and choosing the stream."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from dash import html

from dashboard.figures import chart_width, concurrency_figure, concurrency_frame, empty_frame
from dashboard.i18n import Lang, format_age, format_number, format_percent, lang_of, text
from dashboard.model import Snapshot, Status, StreamSummary, stream_series, summarize

__all__ = [
    "chart_for",
    "clock_time",
    "partner_names",
    "partner_table",
    "resolve_stream",
    "stat_card",
    "status_badge",
    "stream_options",
]


def stat_card(prefix: str, name: str, *, with_note: bool = False) -> html.Div:
    """A big-number card with ids ``{prefix}-label-{name}``, ``{prefix}-total-{name}``."""
    children = [
        html.Div(id=f"{prefix}-label-{name}", className="lt-card-label"),
        html.Div("–", id=f"{prefix}-total-{name}", className="lt-card-value"),
    ]
    if with_note:
        children.append(html.Div(id=f"{prefix}-total-{name}-at", className="lt-card-note"))
    return html.Div(children, className="lt-card")


def status_badge(status: Status, lang: Lang) -> html.Span:
    """A coloured live/stale/offline badge."""
    return html.Span(text(f"status.{status}", lang), className=f"lt-badge lt-badge-{status}")


def clock_time(second: int | None, tz: str) -> str:
    """An epoch second as HH:MM:SS in a time zone, a dash for None."""
    if second is None:
        return "–"
    return datetime.fromtimestamp(second, ZoneInfo(tz)).strftime("%H:%M:%S")


def partner_table(summary: StreamSummary, lang: Lang, now_ms: int) -> html.Table:
    """One row per partner: name, concurrent, share, views, uniques, status, event age."""
    heads = ["partner", "concurrent", "share", "views", "uniques", "status", "age"]
    header = html.Thead(html.Tr([html.Th(text(h, lang)) for h in heads]))
    total = summary.total.concurrent
    rows = []
    ordered = sorted(summary.partners, key=lambda p: (-p.figures.concurrent, p.id))
    for p in ordered:
        rows.append(
            html.Tr(
                [
                    html.Td(p.display_name(lang)),
                    html.Td(format_number(p.figures.concurrent, lang), className="lt-num"),
                    html.Td(format_percent(p.figures.concurrent, total), className="lt-num"),
                    html.Td(format_number(p.figures.views, lang), className="lt-num"),
                    html.Td(format_number(p.figures.uniques, lang), className="lt-num"),
                    html.Td(status_badge(p.status, lang)),
                    html.Td(format_age(p.last_arrival, now_ms), className="lt-num"),
                ]
            )
        )
    return html.Table([header, html.Tbody(rows)], className="lt-table")


def stream_options(snapshot: Snapshot) -> list[dict[str, str]]:
    """Dropdown options for the streams, most recently active first."""
    return [{"label": s.title, "value": s.id} for s in snapshot.streams()]


def resolve_stream(snapshot: Snapshot, selected: str | None) -> str | None:
    """The selected stream if it exists, else the most recently active one, else None."""
    streams = snapshot.streams()
    ids = [s.id for s in streams]
    if selected in ids:
        return selected
    return ids[0] if ids else None


def partner_names(summary: StreamSummary, lang: Lang) -> Mapping[str, str]:
    """Partner display names by id."""
    return {p.id: p.display_name(lang) for p in summary.partners}


def chart_for(
    snapshot: Snapshot, selected: str | None, lang_value: object, now: int, *, dark: bool = False
) -> go.Figure:
    """The concurrency chart of the selected stream from its first data second to ``now``."""
    lang = lang_of(lang_value)
    stream_id = resolve_stream(snapshot, selected)
    if stream_id is None:
        return concurrency_figure(empty_frame(), lang, dark=dark)
    total = snapshot.totals.get(stream_id)
    start = total.seconds[0] if total and total.seconds else now
    width = chart_width(max(0, now - start))
    series = stream_series(
        snapshot, stream_id, width=width, start=min(start, now), end=now, max_buckets=10**9
    )
    names = partner_names(summarize(snapshot, stream_id, now, now * 1000), lang)
    label = text("total", lang)
    frame = concurrency_frame(series, names, label)
    return concurrency_figure(frame, lang, dark=dark, total_label=label)
