"""The exports page (``/exports``): pick stream, range, resolution, format, language; download."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import dash
from dash import Input, Output, callback, dcc, html

from dashboard.components import resolve_stream
from dashboard.data import current_data
from dashboard.exports import FORMATS
from dashboard.i18n import lang_of, text
from dashboard.inputs import checked, ident, one_of, raw, text_field
from dashboard.model import RESOLUTIONS

__all__ = ["export_links", "layout", "refresh_exports"]

dash.register_page(__name__, path="/exports", name="Exports", title="livetally · exports")  # type: ignore[no-untyped-call]

_FIELDS = ("resolution", "format", "language", "from", "to")


def _field(name: str, control: Any) -> html.Label:
    return html.Label(
        [html.Span(id=f"exports-label-{name}", className="lt-field-label"), control],
        className="lt-field",
    )


def layout(**_query: str) -> html.Div:
    """The page's static structure; callbacks fill in labels and links."""
    return html.Div(
        [
            html.H2(id="exports-title", className="lt-title"),
            html.Div(
                [
                    _field(
                        "resolution",
                        dcc.Dropdown(
                            id="exports-resolution",
                            options=list(RESOLUTIONS),
                            value="1m",
                            clearable=False,
                        ),
                    ),
                    _field(
                        "format",
                        dcc.RadioItems(
                            id="exports-format", options=list(FORMATS), value="xlsx", inline=True
                        ),
                    ),
                    _field(
                        "language",
                        dcc.RadioItems(
                            id="exports-lang",
                            options=[
                                {"label": "中文", "value": "zh"},
                                {"label": "English", "value": "en"},
                            ],
                            value="zh",
                            inline=True,
                        ),
                    ),
                    _field("from", dcc.Input(id="exports-from", type="text", debounce=True)),
                    _field("to", dcc.Input(id="exports-to", type="text", debounce=True)),
                ],
                className="lt-form",
            ),
            html.Div(id="exports-hint", className="lt-muted"),
            html.Div(
                [
                    html.A(id="exports-download", className="lt-button", download=""),
                    html.A(id="exports-report", className="lt-button", target="_blank"),
                    html.A(id="exports-report-pdf", className="lt-button", download=""),
                    html.A(id="exports-report-docx", className="lt-button", download=""),
                ],
                className="lt-actions",
            ),
        ],
        className="lt-live lt-exports",
    )


def export_links(
    stream_id: str | None,
    resolution: str | None,
    fmt: str | None,
    export_lang: str | None,
    start: str | None,
    end: str | None,
) -> tuple[str, str]:
    """The export and report URLs for the chosen options (empty times are left out)."""
    if stream_id is None:
        return "", ""
    query: dict[str, str] = {
        "format": fmt or "csv",
        "resolution": resolution or "1m",
        "lang": lang_of(export_lang),
    }
    if start and start.strip():
        query["from"] = start.strip()
    if end and end.strip():
        query["to"] = end.strip()
    base = f"/api/v1/streams/{quote(stream_id, safe='')}"
    report = f"{base}/report?{urlencode({'lang': lang_of(export_lang)})}"
    return f"{base}/export?{urlencode(query)}", report


def refresh_exports(
    selected: str | None,
    lang_value: object,
    resolution: str | None,
    fmt: str | None,
    export_lang: str | None,
    start: str | None,
    end: str | None,
) -> tuple[Any, ...]:
    """Labels in the page language and the links for the chosen options."""
    lang = lang_of(lang_value)
    snapshot = current_data().snapshot()
    stream_id = resolve_stream(snapshot, selected)
    title = text("export.title", lang)
    if stream_id is not None:
        title = f"{title} · {snapshot.stream(stream_id).title}"
    download, report = export_links(stream_id, resolution, fmt, export_lang, start, end)
    labels = [
        text(f"export.{name}", lang) for name in ("resolution", "format", "language", "from", "to")
    ]
    return (
        title,
        *labels,
        text("export.range_hint", lang),
        f"{text('export.download', lang)} ({fmt or 'csv'})",
        download,
        text("export.report", lang),
        report,
        text("export.report_pdf", lang),
        report.replace("/report?", "/report.pdf?", 1),
        text("export.report_docx", lang),
        report.replace("/report?", "/report.docx?", 1),
    )


callback(
    Output("exports-title", "children"),
    *[Output(f"exports-label-{name}", "children") for name in _FIELDS],
    Output("exports-hint", "children"),
    Output("exports-download", "children"),
    Output("exports-download", "href"),
    Output("exports-report", "children"),
    Output("exports-report", "href"),
    Output("exports-report-pdf", "children"),
    Output("exports-report-pdf", "href"),
    Output("exports-report-docx", "children"),
    Output("exports-report-docx", "href"),
    Input("app-stream", "data"),
    Input("app-lang", "data"),
    Input("exports-resolution", "value"),
    Input("exports-format", "value"),
    Input("exports-lang", "value"),
    Input("exports-from", "value"),
    Input("exports-to", "value"),
)(
    checked(
        refresh_exports,
        ident,
        raw,
        one_of(*RESOLUTIONS),
        one_of(*FORMATS),
        raw,
        text_field,
        text_field,
    )
)
