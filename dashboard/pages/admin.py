"""The admin page (``/admin``, admin tokens only): add and revoke partners and tokens.

A new key or token is shown once, in the response of the click that made it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from contract.programme import slots
from contract.registry import ROLES, Token
from dashboard.admin import AdminActions, current_admin
from dashboard.auth import current_role
from dashboard.exceptions import DashboardError
from dashboard.i18n import Lang, lang_of, text
from dashboard.inputs import checked, count, ident, raw, signature, text_field

__all__ = [
    "add_partner",
    "add_segment",
    "admin_lists",
    "create_token",
    "layout",
    "programme_lists",
    "remove_segment",
    "revoke_partner",
    "revoke_token",
    "rotate_partner_key",
]

dash.register_page(__name__, path="/admin", name="Admin", title="livetally · admin")  # type: ignore[no-untyped-call]


def _field(label_key: str, lang: Lang, control: Any) -> html.Label:
    return html.Label(
        [html.Span(text(label_key, lang), className="lt-field-label"), control],
        className="lt-field",
    )


def _input(component_id: str, label_key: str, lang: Lang, **kwargs: Any) -> html.Label:
    return _field(label_key, lang, dcc.Input(id=component_id, type="text", **kwargs))


def _choice(component_id: str, label_key: str, lang: Lang) -> html.Label:
    return _field(label_key, lang, dcc.Dropdown(id=component_id, className="lt-choice"))


def _remove_row(choice_id: str, button_id: str, label_key: str, lang: Lang) -> html.Div:
    return html.Div(
        [
            dcc.Dropdown(id=choice_id, className="lt-choice"),
            html.Button(text(label_key, lang), id=button_id),
        ],
        className="lt-form",
    )


def layout(lang: str | None = None, **_query: str) -> html.Div:
    """The page for admins; anyone else gets a refusal (the server also answers 403)."""
    page_lang = lang_of(lang)
    if current_role() != "admin":
        return html.Div(
            html.H2(text("admin.forbidden", page_lang), id="admin-forbidden"), className="lt-live"
        )
    return html.Div(
        [
            html.H2(text("admin.title", page_lang), className="lt-title"),
            html.H3(text("admin.add_partner", page_lang)),
            html.Div(
                [
                    _input("admin-partner-id", "admin.partner_id", page_lang),
                    _input("admin-partner-name", "admin.name", page_lang),
                    _input("admin-partner-name-en", "admin.name_en", page_lang),
                    html.Label(
                        [
                            html.Span(text("admin.mode", page_lang), className="lt-field-label"),
                            dcc.RadioItems(
                                id="admin-partner-mode",
                                options=["sessions", "reports"],
                                value="sessions",
                                inline=True,
                            ),
                        ],
                        className="lt-field",
                    ),
                    _input("admin-partner-timeout", "admin.timeout", page_lang, value="30"),
                    html.Button(text("admin.submit", page_lang), id="admin-partner-add"),
                ],
                className="lt-form",
            ),
            html.Div(id="admin-partner-result", className="lt-result"),
            html.Div(
                [
                    dcc.Dropdown(id="admin-partner-choice", className="lt-choice"),
                    html.Button(text("admin.revoke", page_lang), id="admin-partner-revoke"),
                    html.Button(text("admin.rotate_key", page_lang), id="admin-partner-rotate"),
                ],
                className="lt-form",
            ),
            html.Div(id="admin-partners"),
            html.H3(text("admin.tokens", page_lang)),
            html.Div(
                [
                    html.Label(
                        [
                            html.Span(text("admin.role", page_lang), className="lt-field-label"),
                            dcc.RadioItems(
                                id="admin-token-role",
                                options=list(ROLES),
                                value="viewer",
                                inline=True,
                            ),
                        ],
                        className="lt-field",
                    ),
                    _choice("admin-token-stream", "admin.token_stream", page_lang),
                    _choice("admin-token-partner", "admin.token_partner", page_lang),
                    _input("admin-token-name", "admin.token_name", page_lang),
                    _input("admin-token-expires", "admin.token_expires", page_lang),
                    html.Button(text("admin.create_token", page_lang), id="admin-token-create"),
                ],
                className="lt-form",
            ),
            html.Div(id="admin-token-result", className="lt-result"),
            _remove_row("admin-token-choice", "admin-token-revoke", "admin.revoke", page_lang),
            html.Div(id="admin-tokens"),
            dcc.Store(id="admin-signature"),
            *_programme_section(page_lang),
        ],
        className="lt-live lt-admin",
    )


def _programme_section(lang: Lang) -> list[Any]:
    """Add and remove a stream's programme segments (节目单)."""
    return [
        html.H3(text("segments", lang)),
        html.Div(
            [
                _choice("admin-segment-stream", "export.stream", lang),
                _input(
                    "admin-segment-start",
                    "segment.start",
                    lang,
                    placeholder="2024-12-21 19:30",
                ),
                _input(
                    "admin-segment-end", "segment.end", lang, placeholder=text("optional", lang)
                ),
                _input("admin-segment-title", "segment.title", lang),
                _input("admin-segment-title-en", "segment.title_en", lang),
                html.Button(text("segment.add", lang), id="admin-segment-add"),
            ],
            className="lt-form",
        ),
        html.Div(text("segment.hint", lang), className="lt-muted"),
        html.Div(id="admin-segment-result", className="lt-result"),
        _remove_row("admin-segment-choice", "admin-segment-remove", "segment.remove", lang),
        html.Div(id="admin-segments"),
        dcc.Store(id="admin-segment-signature"),
    ]


def _guard() -> AdminActions:
    if current_role() != "admin":
        raise PreventUpdate  # the server refuses /admin to others; callbacks do nothing
    return current_admin()


def _error(exc: DashboardError) -> html.Div:
    return html.Div(exc.detail, className="lt-error")


def _done(item_id: str, lang_value: object) -> str:
    lang = lang_of(lang_value)
    return f"{text('admin.done', lang)}: {item_id} {text('admin.revoked', lang)}"


def _secret(label_key: str, secret: str, lang: Lang, element_id: str) -> html.Div:
    return html.Div([html.Div(text(label_key, lang)), html.Code(secret, id=element_id)])


def add_partner(
    clicks: int | None,
    partner_id: str | None,
    name: str | None,
    name_en: str | None,
    mode: str | None,
    timeout: str | None,
    lang_value: object,
) -> Any:
    """Register a partner and show its new key once."""
    if not clicks:
        raise PreventUpdate
    actions = _guard()
    lang = lang_of(lang_value)
    fields = {
        "id": partner_id or "",
        "name": name or "",
        "name_en": name_en or "",
        "mode": mode or "sessions",
        "session_timeout_s": timeout or "30",
    }
    try:
        _, key = actions.add_partner(fields)
    except DashboardError as exc:
        return _error(exc)
    return _secret("admin.key_once", key, lang, "admin-new-key")


def revoke_partner(clicks: int | None, partner_id: str | None, lang_value: object) -> Any:
    """Revoke the chosen partner's key."""
    if not clicks or not partner_id:
        raise PreventUpdate
    actions = _guard()
    try:
        actions.revoke_partner(partner_id)
    except DashboardError as exc:
        return _error(exc)
    return _done(partner_id, lang_value)


def rotate_partner_key(clicks: int | None, partner_id: str | None, lang_value: object) -> Any:
    """Give the chosen partner a new key and show it once; the old key works for ten more
    minutes, so the partner can switch without losing events."""
    if not clicks or not partner_id:
        raise PreventUpdate
    actions = _guard()
    lang = lang_of(lang_value)
    try:
        partner, key = actions.rotate_key(partner_id, {})
    except DashboardError as exc:
        return _error(exc)
    until = _expiry(partner.previous_key_expires_at)
    return html.Div(
        [
            html.Div(text("admin.rotated_key_once", lang).format(until=until)),
            html.Code(key, id="admin-new-key"),
        ]
    )


def create_token(
    clicks: int | None,
    role: str | None,
    name: str | None,
    expires: str | None,
    stream: str | None,
    partner: str | None,
    lang_value: object,
) -> Any:
    """Create a token and show it once: a public one for the chosen stream, a viewer or
    partner one limited to it when a stream is chosen, a partner one for the chosen
    partner. A choice that does not fit the role is refused, as by the admin API."""
    if not clicks:
        raise PreventUpdate
    actions = _guard()
    fields = {"role": role or "viewer", "name": name or "", "expires": expires or ""}
    # Whatever is chosen goes to the API, whose rules decide: a stream or partner that
    # does not fit the role is refused there, never dropped into an unlimited token.
    if stream:
        fields["stream"] = stream
    if partner or role == "partner":
        fields["partner"] = partner or ""
    try:
        _, secret = actions.create_token(fields)
    except DashboardError as exc:
        return _error(exc)
    return _secret("admin.token_once", secret, lang_of(lang_value), "admin-new-token")


def revoke_token(clicks: int | None, token_id: str | None, lang_value: object) -> Any:
    """Revoke the chosen token."""
    if not clicks or not token_id:
        raise PreventUpdate
    actions = _guard()
    try:
        actions.revoke_token(token_id)
    except DashboardError as exc:
        return _error(exc)
    return _done(token_id, lang_value)


def add_segment(
    clicks: int | None,
    stream_id: str | None,
    start: str | None,
    end: str | None,
    title: str | None,
    title_en: str | None,
    lang_value: object,
) -> Any:
    """Add a segment to the chosen stream's programme."""
    if not clicks:
        raise PreventUpdate
    actions = _guard()
    lang = lang_of(lang_value)
    if not stream_id:
        return html.Div(text("segment.pick_stream", lang), className="lt-error")
    fields = {
        "start": start or "",
        "end": end or "",
        "title": title or "",
        "title_en": title_en or "",
    }
    try:
        _, segment = actions.add_segment(stream_id, fields)
    except DashboardError as exc:
        return _error(exc)
    return f"{text('admin.done', lang)}: {segment.id} · {segment.display_title(lang)}"


def remove_segment(
    clicks: int | None, stream_id: str | None, segment_id: str | None, lang_value: object
) -> Any:
    """Remove the chosen segment."""
    if not clicks or not stream_id or not segment_id:
        raise PreventUpdate
    actions = _guard()
    try:
        actions.remove_segment(stream_id, segment_id)
    except DashboardError as exc:
        return _error(exc)
    lang = lang_of(lang_value)
    return f"{text('admin.done', lang)}: {segment_id} {text('segment.removed', lang)}"


def programme_lists(
    _tick: int | None, stream_id: str | None, lang_value: object, signature: str | None
) -> tuple[Any, ...]:
    """The stream choices, the chosen stream's programme and its removal choices."""
    actions = _guard()
    lang = lang_of(lang_value)
    streams = actions.streams()
    chosen = stream_id if stream_id in {s.id for s in streams} else None
    if chosen is None and streams:
        chosen = streams[0].id
    programme = actions.programme(chosen)[1] if chosen is not None else ()
    new_signature = repr((streams, chosen, programme, lang))
    if new_signature == signature:
        raise PreventUpdate
    tz = next((s.tz for s in streams if s.id == chosen), "UTC")
    rows = [
        html.Tr(
            [
                html.Td(slot.segment.id),
                html.Td(_local(slot.start, tz)),
                html.Td("-" if slot.end is None else _local(slot.end, tz)),
                html.Td(slot.segment.title),
                html.Td(slot.segment.title_en),
            ]
        )
        for slot in slots(programme)
    ]
    heads = ["segment.id", "segment.start", "segment.end", "segment.title", "segment.title_en"]
    table: Any = (
        html.Table(
            [
                html.Thead(html.Tr([html.Th(text(h, lang)) for h in heads])),
                html.Tbody(rows),
            ],
            className="lt-table",
            id="admin-segments-table",
        )
        if rows
        else html.Div(text("segment.none", lang), className="lt-muted")
    )
    stream_options = [{"label": f"{s.id} · {s.title}", "value": s.id} for s in streams]
    segment_options = [
        {"label": f"{seg.id} · {seg.display_title(lang)}", "value": seg.id} for seg in programme
    ]
    return stream_options, stream_options, chosen, table, segment_options, new_signature


def _local(second: int, tz: str) -> str:
    return datetime.fromtimestamp(second, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def _state(revoked: bool, lang: Lang) -> str:
    return text("admin.revoked" if revoked else "admin.active", lang)


def _token_state(token: Token, lang: Lang) -> str:
    if not token.revoked and not token.active(int(time.time() * 1000)):
        return text("admin.expired", lang)
    return _state(token.revoked, lang)


def _expiry(expires_at: int) -> str:
    if not expires_at:
        return "-"
    return datetime.fromtimestamp(expires_at / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def admin_lists(_tick: int | None, lang_value: object, signature: str | None) -> tuple[Any, ...]:
    """Partner and token tables, the partner and revoke choices (never a key, token or hash)."""
    actions = _guard()
    lang = lang_of(lang_value)
    partners = actions.partners()
    tokens = actions.tokens()
    new_signature = repr((partners, tokens, lang))
    if new_signature == signature:
        raise PreventUpdate
    partner_rows = [
        html.Tr(
            [
                html.Td(p.id),
                html.Td(p.name),
                html.Td(p.name_en),
                html.Td(p.mode),
                html.Td(str(p.session_timeout_s)),
                html.Td(_state(p.revoked, lang)),
            ]
        )
        for p in partners
    ]
    token_rows = [
        html.Tr(
            [
                html.Td(t.id),
                html.Td(t.role_text()),
                html.Td(t.name),
                html.Td(_expiry(t.expires_at)),
                html.Td(_token_state(t, lang)),
            ]
        )
        for t in tokens
    ]
    partner_heads = ["admin.partner_id", "admin.name", "admin.name_en", "admin.mode"]
    partner_heads += ["admin.timeout", "status"]
    token_heads = ["admin.partner_id", "admin.role", "admin.token_name", "admin.expires", "status"]
    partner_table = html.Table(
        [
            html.Thead(html.Tr([html.Th(text(h, lang)) for h in partner_heads])),
            html.Tbody(partner_rows),
        ],
        className="lt-table",
        id="admin-partners-table",
    )
    token_table = html.Table(
        [
            html.Thead(html.Tr([html.Th(text(h, lang)) for h in token_heads])),
            html.Tbody(token_rows),
        ],
        className="lt-table",
        id="admin-tokens-table",
    )
    partner_options = [
        {"label": f"{p.id} · {p.name}", "value": p.id} for p in partners if not p.revoked
    ]
    token_options = [
        {"label": f"{t.id} · {t.role} {t.name}", "value": t.id} for t in tokens if not t.revoked
    ]
    return (
        partner_table,
        token_table,
        partner_options,
        partner_options,
        token_options,
        new_signature,
    )


callback(
    Output("admin-partner-result", "children"),
    Input("admin-partner-add", "n_clicks"),
    State("admin-partner-id", "value"),
    State("admin-partner-name", "value"),
    State("admin-partner-name-en", "value"),
    State("admin-partner-mode", "value"),
    State("admin-partner-timeout", "value"),
    State("app-lang", "data"),
)(checked(add_partner, count, text_field, text_field, text_field, text_field, raw, raw))
callback(
    Output("admin-partner-result", "children", allow_duplicate=True),
    Input("admin-partner-revoke", "n_clicks"),
    State("admin-partner-choice", "value"),
    State("app-lang", "data"),
    prevent_initial_call=True,
)(checked(revoke_partner, count, ident, raw))
callback(
    Output("admin-partner-result", "children", allow_duplicate=True),
    Input("admin-partner-rotate", "n_clicks"),
    State("admin-partner-choice", "value"),
    State("app-lang", "data"),
    prevent_initial_call=True,
)(checked(rotate_partner_key, count, ident, raw))
callback(
    Output("admin-token-result", "children"),
    Input("admin-token-create", "n_clicks"),
    State("admin-token-role", "value"),
    State("admin-token-name", "value"),
    State("admin-token-expires", "value"),
    State("admin-token-stream", "value"),
    State("admin-token-partner", "value"),
    State("app-lang", "data"),
)(checked(create_token, count, text_field, text_field, text_field, ident, ident, raw))
callback(
    Output("admin-token-result", "children", allow_duplicate=True),
    Input("admin-token-revoke", "n_clicks"),
    State("admin-token-choice", "value"),
    State("app-lang", "data"),
    prevent_initial_call=True,
)(checked(revoke_token, count, ident, raw))
callback(
    Output("admin-partners", "children"),
    Output("admin-tokens", "children"),
    Output("admin-partner-choice", "options"),
    Output("admin-token-partner", "options"),
    Output("admin-token-choice", "options"),
    Output("admin-signature", "data"),
    Input("app-interval", "n_intervals"),
    Input("app-lang", "data"),
    State("admin-signature", "data"),
)(checked(admin_lists, count, raw, signature))
callback(
    Output("admin-segment-result", "children"),
    Input("admin-segment-add", "n_clicks"),
    State("admin-segment-stream", "value"),
    State("admin-segment-start", "value"),
    State("admin-segment-end", "value"),
    State("admin-segment-title", "value"),
    State("admin-segment-title-en", "value"),
    State("app-lang", "data"),
)(checked(add_segment, count, ident, text_field, text_field, text_field, text_field, raw))
callback(
    Output("admin-segment-result", "children", allow_duplicate=True),
    Input("admin-segment-remove", "n_clicks"),
    State("admin-segment-stream", "value"),
    State("admin-segment-choice", "value"),
    State("app-lang", "data"),
    prevent_initial_call=True,
)(checked(remove_segment, count, ident, ident, raw))
callback(
    Output("admin-segment-stream", "options"),
    Output("admin-token-stream", "options"),
    Output("admin-segment-stream", "value"),
    Output("admin-segments", "children"),
    Output("admin-segment-choice", "options"),
    Output("admin-segment-signature", "data"),
    Input("app-interval", "n_intervals"),
    Input("admin-segment-stream", "value"),
    Input("app-lang", "data"),
    State("admin-segment-signature", "data"),
)(checked(programme_lists, count, ident, raw, signature))
