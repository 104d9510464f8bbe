"""The live page (``/``): headline numbers, partner table, concurrency and views charts, alerts.

The charts are drawn whole when the stream, language, mode, bucket width, programme or set of
partners changes, and at least once a minute (late events can revise any second); in
between each tick only patches them: the last bucket is replaced and new ones appended.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash
from dash import Input, Output, Patch, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from contract.registry import DEFAULT_TZ
from dashboard.components import (
    alerts_feed,
    clock_time,
    partner_list,
    partner_table,
    resolve_stream,
    stat_card,
)
from dashboard.data import current_data
from dashboard.figures import (
    CHART_MAX_POINTS,
    add_segments,
    chart_top,
    chart_width,
    concurrency_figure,
    concurrency_frame,
    empty_frame,
    value_axis,
    views_figure,
    views_frame,
    wall_clock,
)
from dashboard.i18n import Lang, format_number, lang_of, text
from dashboard.inputs import bounded_int, checked, count, ident, one_of, raw, record, signature
from dashboard.model import Snapshot, stream_series, summarize
from dashboard.monitor import MonitorSnapshot

__all__ = [
    "FULL_REDRAW_S",
    "chart_update",
    "layout",
    "live_alerts",
    "live_outputs",
    "refresh_alerts",
    "refresh_chart",
    "refresh_numbers",
]

FULL_REDRAW_S = 60
"""The charts are redrawn whole at the start of every window of this many seconds (epoch
aligned, so every open page redraws in the same second and shares one drawing); patched
in between."""

CHART_SHARE_S = 5
"""Whole charts drawn for any second of such a slot are shared; divides ``FULL_REDRAW_S``."""

_MAX_TOP = 10**15
"""Larger than any chart value (partner counters are at most 10^12, summed over partners)."""

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
            dcc.RadioItems(
                id="live-chart-mode",
                options=[{"label": "", "value": "lines"}, {"label": "", "value": "stacked"}],
                value="lines",
                inline=True,
                persistence=True,
                persistence_type="local",
                className="lt-chart-mode",
            ),
            dcc.Graph(id="live-chart", config={"displaylogo": False}),
            dcc.Graph(id="live-views-chart", config={"displaylogo": False}),
            html.H3(id="live-alerts-title"),
            html.Div(id="live-alerts", className="lt-alerts-box"),
            dcc.Store(id="live-signature"),
            dcc.Store(id="live-chart-version"),
            dcc.Store(id="live-alerts-version"),
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
        # The table on a desk, the list on a phone (the stylesheet shows one of them).
        [partner_table(summary, lang, now_ms), partner_list(summary, lang)],
    )


def refresh_numbers(
    _tick: int | None, selected: str | None, lang_value: object, signature: str | None
) -> tuple[Any, ...]:
    """Interval callback: recompute the numbers; skip the update when nothing changed."""
    snapshot = current_data().snapshot()
    now_s = int(time.time())
    lang = lang_of(lang_value)

    def compute() -> tuple[tuple[Any, ...], str]:
        outputs = live_outputs(snapshot, selected, lang, now_s * 1000)
        return outputs, repr((snapshot.version, outputs))

    outputs, new_signature = snapshot.memo.get(("live", selected, lang, now_s), compute)
    if new_signature == signature:
        raise PreventUpdate
    return (*outputs, new_signature)


def _full_charts(
    snapshot: Snapshot, stream_id: str | None, lang_value: object, stacked: bool, now: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Both charts whole, as plain figure dicts: built once, they are shared by every viewer,
    and a dict costs Dash a tenth of a ``go.Figure`` to serialize for each of them."""
    lang = lang_of(lang_value)
    label = text("total", lang)
    if stream_id is None:
        return (
            concurrency_figure(empty_frame(), lang, stacked=stacked).to_plotly_json(),
            views_figure(empty_frame("views"), lang, stacked=stacked).to_plotly_json(),
            {},
        )
    key, width, first = _chart_key(snapshot, stream_id, lang_value, stacked, now)
    series = _series(snapshot, stream_id, width, first, now)
    names = _names(snapshot, lang_value)
    conc_frame = concurrency_frame(series, names, label)
    views_frame_ = views_frame(series, names, label)
    conc = concurrency_figure(conc_frame, lang, total_label=label, stacked=stacked)
    views = views_figure(views_frame_, lang, total_label=label, stacked=stacked)
    programme = snapshot.registry.programme(stream_id)
    tz = snapshot.stream(stream_id).tz
    for fig in (conc, views):
        add_segments(fig, programme, series.start, now, tz, lang)
    tops = [
        chart_top(conc_frame, "concurrent", label, stacked=stacked),
        chart_top(views_frame_, "views", label, stacked=stacked),
    ]
    state = {
        "key": key,
        "version": snapshot.version,
        "last": series.total[-1].start if series.total else None,
        "n": len(series.total),
        "drawn_at": now,
        "tops": tops,
    }
    return conc.to_plotly_json(), views.to_plotly_json(), state


def _names(snapshot: Snapshot, lang_value: object) -> dict[str, str]:
    lang = lang_of(lang_value)
    return {p.id: p.display_name(lang) for p in snapshot.registry.partners.values()}


def _programme_digest(snapshot: Snapshot, stream_id: str) -> str:
    programme = repr(snapshot.registry.programme(stream_id))
    return hashlib.blake2b(programme.encode(), digest_size=8).hexdigest()


def _chart_key(
    snapshot: Snapshot, stream_id: str, lang_value: object, stacked: bool, now: int
) -> tuple[list[Any], int, int]:
    """What a drawn chart depends on, its bucket width and its first second."""
    total = snapshot.totals.get(stream_id)
    first = total.seconds[0] if total and total.seconds else now
    first = min(first, now)
    width = chart_width(now - first)
    platforms = sorted(snapshot.platforms.get(stream_id, {}))
    names = _names(snapshot, lang_value)
    labels = [names.get(p, p) for p in platforms]
    # A changed programme redraws the charts whole (a patch only extends the lines); its
    # digest is taken once per snapshot, not for every viewer's tick.
    marks = snapshot.memo.get(
        ("programme", stream_id), lambda: _programme_digest(snapshot, stream_id)
    )
    key = [stream_id, lang_of(lang_value), stacked, width, first, platforms, marks, labels]
    return key, width, first


def _series(snapshot: Snapshot, stream_id: str, width: int, start: int, now: int) -> Any:
    """The chart's buckets from ``start`` through ``now``."""
    return stream_series(
        snapshot,
        stream_id,
        width=width,
        start=start,
        end=now,
        max_buckets=CHART_MAX_POINTS + 1,
    )


def _patch_point(
    state: dict[str, Any], key: list[Any], width: int, first: int, now: int
) -> int | None:
    """The last bucket the browser says it has drawn, if that state is one this page wrote.

    The state comes from the browser, so it is only trusted where it is consistent with
    the chart that would be drawn now: same key, drawn in the current ``FULL_REDRAW_S``
    window, and ``n`` buckets from the chart's first bucket through ``last``. Anything else is a
    full redraw, which costs at most ``CHART_MAX_POINTS`` buckets per line.
    """
    if state.get("key") != key:
        return None
    drawn_at = bounded_int(state.get("drawn_at"), now - now % FULL_REDRAW_S, now)
    origin = first - first % width
    last = bounded_int(state.get("last"), origin, now)
    n = bounded_int(state.get("n"), 1, CHART_MAX_POINTS)
    if drawn_at is None or last is None or n is None:
        return None
    if (last - origin) % width or (last - origin) // width + 1 != n:
        return None
    return last


def _drawn_tops(state: dict[str, Any]) -> tuple[int, int] | None:
    """The highest values the drawn charts' y ticks were made for (``tops`` of the state)."""
    tops = state.get("tops")
    if not isinstance(tops, list) or len(tops) != 2:
        return None
    conc, views = (bounded_int(t, 0, _MAX_TOP) for t in tops)
    return None if conc is None or views is None else (conc, views)


def chart_update(
    snapshot: Snapshot,
    selected: str | None,
    lang_value: object,
    mode: str | None,
    state: dict[str, Any] | None,
    now: int,
) -> tuple[Any, Any, dict[str, Any]]:
    """Both charts as whole figures, or as ``Patch`` es of the figures drawn before."""
    stacked = mode == "stacked"
    lang = lang_of(lang_value)
    stream_id = resolve_stream(snapshot, selected)

    def full() -> tuple[Any, Any, dict[str, Any]]:
        # Shared by every page asking within one CHART_SHARE_S slot (of its redraw window):
        # a chart ending a few seconds ago is extended by the next patch.
        slot = now - now % CHART_SHARE_S
        return snapshot.recent.get(
            ("charts", stream_id, lang, stacked, slot),
            lambda: _full_charts(snapshot, stream_id, lang, stacked, now),
        )

    if stream_id is None or not state:
        return full()
    key, width, first = _chart_key(snapshot, stream_id, lang, stacked, now)
    labels = key[-1]
    last = _patch_point(state, key, width, first, now)
    tops = _drawn_tops(state)
    if last is None or tops is None or len(set(labels)) != len(labels):
        return full()
    n = int(state["n"])
    patch = snapshot.memo.get(
        ("patch", repr(key), last, n, tops, now),
        lambda: _patches(snapshot, stream_id, width, last, n, now, tops, lang, stacked),
    )
    if patch is None:
        return full()
    if state.get("version") == snapshot.version and patch[2] == last:
        raise PreventUpdate
    conc, views, new_last, drawn, new_tops = patch
    return (
        conc,
        views,
        {
            **state,
            "version": snapshot.version,
            "last": new_last,
            "n": n + drawn,
            "tops": list(new_tops),
        },
    )


def _patches(
    snapshot: Snapshot,
    stream_id: str,
    width: int,
    last: int,
    n: int,
    now: int,
    tops: tuple[int, int],
    lang: Lang,
    stacked: bool,
) -> tuple[Any, Any, int, int, tuple[int, int]] | None:
    """``Patch`` es extending charts that end at bucket ``last`` (``n`` points) through
    ``now``: the two patches, the new last bucket, how many points were added and the new
    tops of the y axes (their ticks are replaced when the data grew past them). None when
    the charts would grow past ``CHART_MAX_POINTS`` (a full redraw is due)."""
    tail = _series(snapshot, stream_id, width, last, now)
    if n + len(tail.total) - 1 > CHART_MAX_POINTS:
        return None
    tz = ZoneInfo(tail.stream.tz)
    times = [wall_clock(datetime.fromtimestamp(b.start, tz)) for b in tail.total[1:]]
    conc, views = Patch(), Patch()
    lines = [tail.total, *tail.platforms.values()]
    for i, buckets in enumerate(lines):
        for patch, values in (
            (conc, [b.peak_concurrent for b in buckets]),
            (views, [b.views for b in buckets]),
        ):
            trace = patch["data"][i]
            trace["y"][n - 1] = values[0]
            trace["customdata"][n - 1] = format_number(values[0], lang)
            if times:
                trace["x"].extend(times)
                trace["y"].extend(values[1:])
                trace["customdata"].extend([format_number(v, lang) for v in values[1:]])
    new_tops = (
        max(tops[0], _tail_top(lines, lambda b: b.peak_concurrent, stacked)),
        max(tops[1], _tail_top(lines, lambda b: b.views, stacked)),
    )
    for patch, before, after in ((conc, tops[0], new_tops[0]), (views, tops[1], new_tops[1])):
        if after > before:
            axis = value_axis(after, lang)
            patch["layout"]["yaxis"]["tickvals"] = axis["tickvals"]
            patch["layout"]["yaxis"]["ticktext"] = axis["ticktext"]
    return conc, views, tail.total[-1].start, len(times), new_tops


def _tail_top(lines: list[Any], value: Callable[[Any], int], stacked: bool) -> int:
    """The highest value of new buckets: of any line, or of the stacked partners' sum."""
    top = max((value(b) for buckets in lines for b in buckets), default=0)
    if stacked and len(lines) > 1:
        sums = [sum(value(b) for b in column) for column in zip(*lines[1:], strict=True)]
        top = max(top, *sums)
    return top


def refresh_chart(
    _tick: int | None,
    selected: str | None,
    lang_value: object,
    mode: str | None,
    state: dict[str, Any] | None,
) -> tuple[Any, Any, dict[str, Any]]:
    """Interval callback: patch the charts with new buckets, or redraw them when needed."""
    return chart_update(
        current_data().snapshot(), selected, lang_value, mode, state, int(time.time())
    )


def live_alerts(
    snapshot: Snapshot, monitor: MonitorSnapshot, selected: str | None, lang_value: object
) -> tuple[str, Any, list[str]]:
    """Title of the alerts box and the newest alerts of the selected stream."""
    lang = lang_of(lang_value)
    stream_id = resolve_stream(snapshot, selected)
    tz = snapshot.stream(stream_id).tz if stream_id else DEFAULT_TZ
    alerts = monitor.alerts_for(stream_id, limit=10) if stream_id else []
    options = [text("chart.lines", lang), text("chart.stacked", lang)]
    return text("alerts", lang), alerts_feed(alerts, lang, tz), options


def refresh_alerts(
    _tick: int | None, selected: str | None, lang_value: object, version: str | None
) -> tuple[Any, ...]:
    """Interval callback: the alerts feed, only when alerts, stream or language changed."""
    data = current_data()
    monitor = data.monitor()
    key = repr((len(monitor.alerts), monitor.alerts[:1], selected, lang_of(lang_value)))
    if key == version:
        raise PreventUpdate
    title, feed, (lines, stacked) = live_alerts(data.snapshot(), monitor, selected, lang_value)
    modes = [{"label": lines, "value": "lines"}, {"label": stacked, "value": "stacked"}]
    return title, feed, modes, key


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
)(checked(refresh_numbers, count, ident, raw, signature))

callback(
    Output("live-chart", "figure"),
    Output("live-views-chart", "figure"),
    Output("live-chart-version", "data"),
    Input("app-interval", "n_intervals"),
    Input("app-stream", "data"),
    Input("app-lang", "data"),
    Input("live-chart-mode", "value"),
    State("live-chart-version", "data"),
)(checked(refresh_chart, count, ident, raw, one_of("lines", "stacked"), record))

callback(
    Output("live-alerts-title", "children"),
    Output("live-alerts", "children"),
    Output("live-chart-mode", "options"),
    Output("live-alerts-version", "data"),
    Input("app-interval", "n_intervals"),
    Input("app-stream", "data"),
    Input("app-lang", "data"),
    State("live-alerts-version", "data"),
)(checked(refresh_alerts, count, ident, raw, signature))
