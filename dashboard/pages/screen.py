"""The big screen (``/screen``): dark, full-screen numbers and the curve for a video wall.

The page is laid out on a 1920×1080 canvas that ``assets/screen.js`` scales to the wall
(3840×2160 is the same picture at twice the size). It has no navigation: a link chooses
the language and stream, ``/screen?lang=en&stream=carnival-2024``; without them it shows
the language last chosen in this browser and the most recently active stream.
"""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.auth import current_role
from dashboard.components import chart_for, clock_time, resolve_stream
from dashboard.data import current_data
from dashboard.i18n import LANGS, Lang, NumberStyle, format_number, lang_of, text
from dashboard.inputs import checked, count, ident, raw, record, signature
from dashboard.model import Snapshot, summarize

__all__ = [
    "layout",
    "refresh_screen",
    "refresh_screen_chart",
    "screen_choice",
    "screen_outputs",
]

dash.register_page(__name__, path="/screen", name="Screen", title="livetally")  # type: ignore[no-untyped-call]

_CARDS = ("concurrent", "peak", "views")


def layout(lang: str | None = None, stream: str | None = None, **_query: str) -> html.Div:
    """The page's static structure; callbacks fill it in. ``lang`` and ``stream`` come from
    the link (``?lang=en&stream=…``) and win over the shell's choices.

    A partner token gets a refusal: the screen shows the whole event, never one partner's
    part (the server also answers 403 for the page itself)."""
    if current_role() == "partner":
        return html.Div(
            html.H2(text("screen.forbidden", lang_of(lang)), id="screen-forbidden"),
            className="lt-live",
        )
    cards = [
        html.Div(
            [
                html.Div(id=f"screen-label-{name}", className="lt-screen-label"),
                html.Div("–", id=f"screen-total-{name}", className="lt-screen-value"),
            ],
            className="lt-screen-card",
        )
        for name in _CARDS
    ]
    return html.Div(
        [
            html.H1(id="screen-title", className="lt-screen-title"),
            html.Div(cards, className="lt-screen-cards"),
            html.Div(id="screen-peak-at", className="lt-screen-note"),
            dcc.Graph(
                id="screen-chart",
                config={"displayModeBar": False, "staticPlot": True, "responsive": True},
                className="lt-screen-chart",
            ),
            html.Div(id="screen-partners", className="lt-screen-partners"),
            dcc.Store(id="screen-query", data={"lang": lang, "stream": stream}),
            dcc.Store(id="screen-signature"),
            dcc.Store(id="screen-chart-version"),
        ],
        className="lt-screen",
    )


def screen_outputs(
    snapshot: Snapshot, selected: str | None, lang_value: object, now_ms: int
) -> tuple[Any, ...]:
    """Title, labels, numbers, peak time and partner list for one moment."""
    lang = lang_of(lang_value)
    labels = [text(name, lang) for name in _CARDS]
    stream_id = resolve_stream(snapshot, selected)
    if stream_id is None:
        return (text("no_stream", lang), *labels, "–", "–", "–", "", [])
    summary = summarize(snapshot, stream_id, now_ms // 1000, now_ms)
    total = summary.total
    partners = sorted(summary.partners, key=lambda p: (-p.figures.concurrent, p.id))
    chips = [
        html.Span(
            [
                html.Span(p.display_name(lang), className="lt-chip-name"),
                html.Span(format_number(p.figures.concurrent, lang), className="lt-chip-value"),
            ],
            className=f"lt-chip lt-chip-{p.status}",
        )
        for p in partners
    ]
    return (
        summary.stream.title,
        *labels,
        screen_number(total.concurrent, lang),
        screen_number(total.peak_concurrent, lang),
        screen_number(total.views, lang),
        f"{text('peak_at', lang)} {clock_time(total.peak_at, summary.stream.tz)}",
        chips,
    )


def _refuse_partner() -> None:
    """The screen's callbacks answer nothing to a partner token, like its layout."""
    if current_role() == "partner":
        raise PreventUpdate


SCREEN_FULL_BELOW = 10_000_000
"""From this count on, an English big-screen number takes the short style (``12.3M``): a
third of the wall holds eight digits with their separators, not more."""


def screen_number(value: int, lang: Lang) -> str:
    """A headline number of the big screen (Chinese never needs more room than ``9999.9万``)."""
    style: NumberStyle = "short" if abs(value) >= SCREEN_FULL_BELOW else "full"
    return format_number(value, lang, style)


def refresh_screen(
    _tick: int | None, selected: str | None, lang_value: object, signature: str | None
) -> tuple[Any, ...]:
    """Interval callback: recompute the numbers; skip the update when nothing changed."""
    _refuse_partner()
    snapshot = current_data().snapshot()
    now_s = int(time.time())
    lang = lang_of(lang_value)

    def compute() -> tuple[tuple[Any, ...], str]:
        outputs = screen_outputs(snapshot, selected, lang, now_s * 1000)
        return outputs, repr((snapshot.version, outputs))

    outputs, new_signature = snapshot.memo.get(("screen", selected, lang, now_s), compute)
    if new_signature == signature:
        raise PreventUpdate
    return (*outputs, new_signature)


def refresh_screen_chart(
    _tick: int | None, selected: str | None, lang_value: object, version: str | None
) -> tuple[Any, str]:
    """Interval callback: redraw the dark chart only when the data, stream or language changed."""
    _refuse_partner()
    snapshot = current_data().snapshot()
    stream_id = resolve_stream(snapshot, selected)
    lang = lang_of(lang_value)
    now = int(time.time())
    # Redrawn when the data, stream or language changed, but at most once a second for the
    # same stream and language (snapshots change several times a second).
    shown = repr((stream_id, lang))
    key = repr((snapshot.version, stream_id, lang))
    before, _, second = (version or "").rpartition("@")
    if before == key or (second == str(now) and before.endswith(shown[1:])):
        raise PreventUpdate
    figure = snapshot.recent.get(
        ("screen-chart", stream_id, lang, now),
        lambda: chart_for(snapshot, stream_id, lang, now, dark=True).to_plotly_json(),
    )
    return figure, f"{key}@{now}"


def screen_choice(
    query: dict[str, object] | None, selected: str | None, lang_value: object
) -> tuple[str | None, object]:
    """The stream and language shown: the link's ``stream`` and ``lang`` when given (and
    valid), else the shell's selection and remembered language."""
    query = query or {}
    stream = ident(query.get("stream"))
    lang = query.get("lang")
    return stream or selected, lang if lang in LANGS else lang_value


def _refresh_screen(
    tick: int | None,
    selected: str | None,
    lang_value: object,
    query: dict[str, object] | None,
    signature: str | None,
) -> tuple[Any, ...]:
    return refresh_screen(tick, *screen_choice(query, selected, lang_value), signature)


def _refresh_screen_chart(
    tick: int | None,
    selected: str | None,
    lang_value: object,
    query: dict[str, object] | None,
    version: str | None,
) -> tuple[Any, str]:
    return refresh_screen_chart(tick, *screen_choice(query, selected, lang_value), version)


callback(
    Output("screen-title", "children"),
    *[Output(f"screen-label-{name}", "children") for name in _CARDS],
    *[Output(f"screen-total-{name}", "children") for name in _CARDS],
    Output("screen-peak-at", "children"),
    Output("screen-partners", "children"),
    Output("screen-signature", "data"),
    Input("app-interval", "n_intervals"),
    Input("app-stream", "data"),
    Input("app-lang", "data"),
    State("screen-query", "data"),
    State("screen-signature", "data"),
)(checked(_refresh_screen, count, ident, raw, record, signature))

callback(
    Output("screen-chart", "figure"),
    Output("screen-chart-version", "data"),
    Input("app-interval", "n_intervals"),
    Input("app-stream", "data"),
    Input("app-lang", "data"),
    State("screen-query", "data"),
    State("screen-chart-version", "data"),
)(checked(_refresh_screen_chart, count, ident, raw, record, signature))
