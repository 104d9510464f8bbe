"""The live page (``/``): headline numbers, the per-partner table and the concurrency chart."""

from __future__ import annotations

import time
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.components import chart_for, clock_time, partner_table, resolve_stream, stat_card
from dashboard.data import current_data
from dashboard.i18n import format_number, lang_of, text
from dashboard.model import Snapshot, summarize

__all__ = ["layout", "live_outputs", "refresh_chart", "refresh_numbers"]

dash.register_page(__name__, path="/", name="Live", title="livetally")  # type: ignore[no-untyped-call]

_CARDS = ("concurrent", "peak", "views", "uniques")


def layout(**_query: str) -> html.Div:
    """The page's static structure; callbacks fill it in."""
    return html.Div(
        [
            html.H2(id="live-title", className="lt-title"),
            html.Div(
                [stat_card("live", name, with_note=name == "peak") for name in _CARDS],
                className="lt-cards",
            ),
            html.Div(id="live-partners", className="lt-partners"),
            dcc.Graph(id="live-chart", config={"displaylogo": False}),
            dcc.Store(id="live-signature"),
            dcc.Store(id="live-chart-version"),
        ],
        className="lt-live",
    )


def live_outputs(
    snapshot: Snapshot, selected: str | None, lang_value: object, now_ms: int
) -> tuple[Any, ...]:
    """Everything the numbers callback shows, as plain values, for one moment."""
    lang = lang_of(lang_value)
    labels = [text(name, lang) for name in _CARDS]
    stream_id = resolve_stream(snapshot, selected)
    if stream_id is None:
        return (text("no_stream", lang), *labels, "–", "–", "–", "–", "", "")
    summary = summarize(snapshot, stream_id, now_ms // 1000, now_ms)
    total = summary.total
    tz = summary.stream.tz
    return (
        summary.stream.title,
        *labels,
        format_number(total.concurrent, lang),
        format_number(total.peak_concurrent, lang),
        format_number(total.views, lang),
        format_number(total.uniques, lang),
        f"{text('peak_at', lang)} {clock_time(total.peak_at, tz)}",
        partner_table(summary, lang, now_ms),
    )


def refresh_numbers(
    _tick: int | None, selected: str | None, lang_value: object, signature: str | None
) -> tuple[Any, ...]:
    """Interval callback: recompute the numbers; skip the update when nothing changed."""
    snapshot = current_data().snapshot()
    outputs = live_outputs(snapshot, selected, lang_value, int(time.time() * 1000))
    new_signature = repr((snapshot.version, outputs))
    if new_signature == signature:
        raise PreventUpdate
    return (*outputs, new_signature)


def refresh_chart(
    _tick: int | None, selected: str | None, lang_value: object, version: str | None
) -> tuple[go.Figure, str]:
    """Interval callback: redraw the chart only when the data, stream or language changed."""
    snapshot = current_data().snapshot()
    key = repr((snapshot.version, resolve_stream(snapshot, selected), lang_of(lang_value)))
    if key == version:
        raise PreventUpdate
    return chart_for(snapshot, selected, lang_value, int(time.time())), key


callback(
    Output("live-title", "children"),
    *[Output(f"live-label-{name}", "children") for name in _CARDS],
    *[Output(f"live-total-{name}", "children") for name in _CARDS],
    Output("live-total-peak-at", "children"),
    Output("live-partners", "children"),
    Output("live-signature", "data"),
    Input("app-interval", "n_intervals"),
    Input("app-stream", "data"),
    Input("app-lang", "data"),
    State("live-signature", "data"),
)(refresh_numbers)

callback(
    Output("live-chart", "figure"),
    Output("live-chart-version", "data"),
    Input("app-interval", "n_intervals"),
    Input("app-stream", "data"),
    Input("app-lang", "data"),
    State("live-chart-version", "data"),
)(refresh_chart)
