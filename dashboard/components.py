"""Reusable page pieces: number cards, the partner table, badges, and choosing the stream."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from dash import html

from contract.alerts import Alert
from contract.stats import Status
from dashboard.figures import (
    add_segments,
    chart_width,
    concurrency_figure,
    concurrency_frame,
    empty_frame,
)
from dashboard.i18n import (
    Lang,
    format_age,
    format_decimal,
    format_number,
    format_percent,
    lang_of,
    text,
)
from dashboard.model import Snapshot, StreamSummary, stream_series, summarize
from dashboard.monitor import MonitorSnapshot, StatusChange

__all__ = [
    "alerts_feed",
    "chart_for",
    "clock_time",
    "history_list",
    "monitor_partner_table",
    "partner_list",
    "partner_names",
    "partner_table",
    "pipeline_table",
    "resolve_stream",
    "stat_card",
    "status_badge",
    "options_for_streams",
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
    numeric = {"concurrent", "share", "views", "uniques", "age"}
    header = html.Thead(
        html.Tr(
            [html.Th(text(h, lang), className="lt-num" if h in numeric else None) for h in heads]
        )
    )
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


def partner_list(summary: StreamSummary, lang: Lang) -> html.Ul:
    """The partner table for a phone: per partner one row of name, concurrent, share and
    status, and a line of views and uniques, in the ``short`` number style."""
    total = summary.total.concurrent
    rows = []
    for p in sorted(summary.partners, key=lambda p: (-p.figures.concurrent, p.id)):
        f = p.figures
        rows.append(
            html.Li(
                [
                    html.Span(
                        p.display_name(lang), className="lt-plist-name", title=p.display_name(lang)
                    ),
                    html.Span(
                        format_number(f.concurrent, lang, "short"), className="lt-plist-value"
                    ),
                    html.Span(format_percent(f.concurrent, total), className="lt-plist-share"),
                    status_badge(p.status, lang),
                    html.Span(
                        f"{text('views', lang)} {format_number(f.views, lang, 'short')} · "
                        f"{text('uniques', lang)} {format_number(f.uniques, lang, 'short')}",
                        className="lt-plist-more",
                    ),
                ],
                className="lt-plist-row",
            )
        )
    return html.Ul(rows, className="lt-plist")


def options_for_streams(snapshot: Snapshot) -> list[dict[str, str]]:
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
    fig = concurrency_figure(frame, lang, dark=dark, total_label=label)
    programme = snapshot.registry.programme(stream_id)
    tz = snapshot.stream(stream_id).tz
    return add_segments(fig, programme, series.start, now, tz, lang, dark=dark)


def alerts_feed(alerts: list[Alert], lang: Lang, tz: str) -> html.Ul | html.Div:
    """The newest alerts: time, level badge and message (always rendered as text)."""
    if not alerts:
        return html.Div(text("alerts.none", lang), className="lt-muted")
    items = [
        html.Li(
            [
                html.Span(clock_time(a.at // 1000, tz), className="lt-alert-time"),
                html.Span(text(f"level.{a.level}", lang), className=f"lt-badge lt-level-{a.level}"),
                html.Span(a.message(lang), className="lt-alert-message"),
            ],
            className="lt-alert",
        )
        for a in alerts
    ]
    return html.Ul(items, className="lt-alerts")


def _table(heads: list[str], rows: list[html.Tr], table_id: str) -> html.Table:
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in heads])), html.Tbody(rows)],
        id=table_id,
        className="lt-table",
    )


def _num(value: str) -> html.Td:
    return html.Td(value, className="lt-num")


def monitor_partner_table(
    summary: StreamSummary, monitor: MonitorSnapshot, lang: Lang, now_ms: int
) -> html.Table | html.Div:
    """Per partner: status, events/s, events, newest event age, accepted, rejected by reason.

    Where the ingest counters are not shown, the last two columns are left out and a line
    under the table says why."""
    rejected = monitor.rejected_by_partner()
    accepted = monitor.accepted_by_partner()
    heads = ["partner", "status", "monitor.events_per_s", "monitor.events", "age"]
    if monitor.ingest_shown:
        heads += ["monitor.accepted", "monitor.rejected"]
    rows = []
    for p in sorted(summary.partners, key=lambda p: p.id):
        rate = monitor.rates.get((summary.stream.id, p.id))
        cells = [
            html.Td(p.display_name(lang)),
            html.Td(status_badge(p.status, lang)),
            _num("–" if rate is None else format_decimal(rate, lang)),
            _num(format_number(p.events, lang)),
            _num(format_age(p.last_arrival, now_ms)),
        ]
        if monitor.ingest_shown:
            reasons = rejected.get(p.id, {})
            reason_text = ", ".join(
                f"{code} {format_number(n, lang)}" for code, n in sorted(reasons.items()) if n
            )
            cells += [
                _num(format_number(accepted[p.id], lang) if p.id in accepted else "–"),
                html.Td(reason_text or "–"),
            ]
        rows.append(html.Tr(cells, id=f"monitor-row-{p.id}"))
    table = _table([text(h, lang) for h in heads], rows, "monitor-partners")
    if monitor.ingest_shown:
        return table
    return html.Div([table, html.P(text("monitor.ingest_hidden", lang), className="lt-muted")])


def pipeline_table(monitor: MonitorSnapshot, lang: Lang, now_ms: int, tz: str) -> html.Div:
    """Each worker: partitions, consumer lag, latency percentiles, events/s, report time."""
    if not monitor.pipelines_shown:
        return html.Div(text("monitor.pipeline_hidden", lang), className="lt-muted")
    if not monitor.pipelines:
        return html.Div(text("monitor.no_pipeline", lang), className="lt-muted")
    heads = [
        "monitor.worker",
        "monitor.partitions",
        "monitor.lag",
        "monitor.latency",
        "monitor.events_per_s",
        "monitor.reported",
    ]
    rows = []
    for m in monitor.pipelines:
        latency = "/".join(
            format_decimal(m.latency_ms[q], lang, 0) if q in m.latency_ms else "–"
            for q in ("p50", "p95", "p99")
        )
        rows.append(
            html.Tr(
                [
                    html.Td(m.worker),
                    html.Td(", ".join(str(p) for p in m.partitions) or "–"),
                    _num(format_number(m.total_lag, lang)),
                    _num(latency),
                    _num(format_decimal(m.events_per_s, lang)),
                    _num(f"{clock_time(m.at // 1000, tz)} ({format_age(m.at, now_ms)})"),
                ]
            )
        )
    return html.Div(_table([text(h, lang) for h in heads], rows, "monitor-pipeline"))


def history_list(
    changes: list[StatusChange], names: Mapping[str, str], lang: Lang, tz: str
) -> html.Ul | html.Div:
    """Status changes, newest first: time, partner, old → new status."""
    if not changes:
        return html.Div(text("monitor.no_history", lang), className="lt-muted")
    items = []
    for c in changes:
        before: list[Any] = [status_badge(c.previous, lang), " → "] if c.previous else []
        items.append(
            html.Li(
                [
                    html.Span(clock_time(c.at // 1000, tz), className="lt-alert-time"),
                    html.Span(names.get(c.platform, c.platform), className="lt-history-name"),
                    *before,
                    status_badge(c.status, lang),
                ],
                className="lt-alert",
            )
        )
    return html.Ul(items, className="lt-alerts", id="monitor-history-list")
