"""The partner monitor (``/monitor``): feed health, the pipeline, status history, alerts."""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import Input, Output, State, callback, html
from dash.exceptions import PreventUpdate

from contract.registry import DEFAULT_TZ
from dashboard.components import (
    alerts_feed,
    history_list,
    monitor_partner_table,
    pipeline_table,
    resolve_stream,
)
from dashboard.data import current_data
from dashboard.i18n import lang_of, text
from dashboard.inputs import checked, count, ident, raw, signature
from dashboard.model import Snapshot, summarize
from dashboard.monitor import MonitorSnapshot

__all__ = ["layout", "monitor_outputs", "refresh_monitor"]

dash.register_page(__name__, path="/monitor", name="Monitor", title="livetally · monitor")  # type: ignore[no-untyped-call]

_SECTIONS = ("partners", "pipeline", "history", "alerts")


def layout(**_query: str) -> html.Div:
    """The page's static structure; callbacks fill it in."""
    children: list[Any] = [html.H2(id="monitor-title", className="lt-title")]
    for name in _SECTIONS:
        # Tables scroll sideways inside their own box on a narrow screen.
        box = "lt-scroll" if name in ("partners", "pipeline") else None
        children += [
            html.H3(id=f"monitor-{name}-title"),
            html.Div(id=f"monitor-{name}", className=box),
        ]
    children.append(dash.dcc.Store(id="monitor-signature"))
    return html.Div(children, className="lt-live lt-monitor")


def monitor_outputs(
    snapshot: Snapshot,
    monitor: MonitorSnapshot,
    selected: str | None,
    lang_value: object,
    now_ms: int,
) -> tuple[Any, ...]:
    """Title, section titles and the four sections for one moment."""
    lang = lang_of(lang_value)
    titles = [
        text("partners", lang),
        text("monitor.pipeline", lang),
        text("monitor.history", lang),
        text("alerts", lang),
    ]
    stream_id = resolve_stream(snapshot, selected)
    if stream_id is None:
        tz = DEFAULT_TZ
        return (
            text("monitor.title", lang),
            *titles,
            text("no_stream", lang),
            pipeline_table(monitor, lang, now_ms, tz),
            history_list([], {}, lang, tz),
            alerts_feed(monitor.alerts_for(None), lang, tz),
        )
    summary = summarize(snapshot, stream_id, now_ms // 1000, now_ms)
    tz = summary.stream.tz
    names = {p.id: p.display_name(lang) for p in summary.partners}
    return (
        f"{text('monitor.title', lang)} · {summary.stream.title}",
        *titles,
        monitor_partner_table(summary, monitor, lang, now_ms),
        pipeline_table(monitor, lang, now_ms, tz),
        history_list(monitor.history_for(stream_id), names, lang, tz),
        alerts_feed(monitor.alerts_for(stream_id), lang, tz),
    )


def refresh_monitor(
    _tick: int | None, selected: str | None, lang_value: object, signature: str | None
) -> tuple[Any, ...]:
    """Interval callback: recompute the monitor; skip the update when nothing changed."""
    data = current_data()
    outputs = monitor_outputs(
        data.snapshot(), data.monitor(), selected, lang_value, int(time.time() * 1000)
    )
    new_signature = repr(outputs)
    if new_signature == signature:
        raise PreventUpdate
    return (*outputs, new_signature)


callback(
    Output("monitor-title", "children"),
    *[Output(f"monitor-{name}-title", "children") for name in _SECTIONS],
    *[Output(f"monitor-{name}", "children") for name in _SECTIONS],
    Output("monitor-signature", "data"),
    Input("app-interval", "n_intervals"),
    Input("app-stream", "data"),
    Input("app-lang", "data"),
    State("monitor-signature", "data"),
)(checked(refresh_monitor, count, ident, raw, signature))
