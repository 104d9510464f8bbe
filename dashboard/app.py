"""The Dash app: its shell (navigation, language, stream choice, refresh tick) and serving it."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

import dash
from dash import Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from contract.kafka_login import check_login
from dashboard.admin import AdminActions, RegistryWriter, register_admin_api
from dashboard.api import register_api
from dashboard.auth import current_role, install_auth
from dashboard.components import options_for_streams
from dashboard.config import DashboardConfig
from dashboard.data import EXTENSION, DataSource, LiveData, current_data
from dashboard.guards import install_guards
from dashboard.i18n import DEFAULT_LANG, lang_of, text
from dashboard.inputs import checked, count, ident, raw, text_field
from dashboard.limits import ExportSlots
from dashboard.scope import RequestData
from dashboard.sessions import SessionSigner, load_secret_key

__all__ = ["create_app", "serve", "shell"]

logger = logging.getLogger(__name__)


def shell(config: DashboardConfig) -> html.Div:
    """Navigation, language toggle, stream selector and the one refresh interval around pages."""
    nav = html.Nav(
        [
            html.Span(id="app-brand", className="lt-brand"),
            dcc.Link(id="app-nav-live", href="/", className="lt-nav-link"),
            dcc.Link(id="app-nav-screen", href="/screen", className="lt-nav-link"),
            dcc.Link(id="app-nav-monitor", href="/monitor", className="lt-nav-link"),
            dcc.Link(id="app-nav-exports", href="/exports", className="lt-nav-link"),
            dcc.Link(id="app-nav-admin", href="/admin", className="lt-nav-link"),
            dcc.Dropdown(
                id="app-stream-select",
                options=[],
                clearable=False,
                className="lt-stream-select",
                style={"display": "none"},
            ),
            dcc.RadioItems(
                id="app-lang-toggle",
                options=[{"label": "中文", "value": "zh"}, {"label": "EN", "value": "en"}],
                value=DEFAULT_LANG,
                inline=True,
                className="lt-lang",
            ),
        ],
        className="lt-nav",
    )
    return html.Div(
        [
            nav,
            dash.page_container,
            dcc.Store(id="app-lang", storage_type="local"),
            dcc.Store(id="app-stream", storage_type="session"),
            dcc.Interval(id="app-interval", interval=config.refresh_ms),
        ],
        id="app-shell",
        className="lt-shell",
    )


def choose_lang(triggered: object, toggled: str | None, stored: str | None) -> tuple[Any, Any]:
    """(store value, toggle value): a click is remembered; otherwise the store sets the toggle."""
    if triggered == "app-lang-toggle":
        return lang_of(toggled), no_update
    return no_update, lang_of(stored)


def sync_lang(toggled: str | None, stored: str | None) -> tuple[Any, Any]:
    """Keep the toggle and the remembered language in step."""
    return choose_lang(ctx.triggered_id, toggled, stored)


_NAV = ("nav.live", "nav.screen", "nav.monitor", "nav.exports", "nav.admin")


def shell_texts(lang_value: object) -> tuple[str, ...]:
    """Brand, navigation labels and the stream selector's placeholder in a language."""
    lang = lang_of(lang_value)
    return (text("app.title", lang), *(text(n, lang) for n in _NAV), text("nav.stream", lang))


def shell_mode(pathname: str | None) -> str:
    """The shell's class: the big screen gets the dark full-screen look."""
    return "lt-shell lt-screen-mode" if pathname == "/screen" else "lt-shell"


def screen_link_style(_pathname: str | None) -> dict[str, str]:
    """The big screen's link is hidden from a partner token, which may not open it."""
    return {"display": "none"} if current_role() == "partner" else {}


def refresh_streams(
    _tick: int | None,
    selected: str | None,
    options: list[dict[str, str]] | None,
    search: str | None = None,
) -> tuple[Any, Any, Any]:
    """Stream selector options (shown only for several streams) and the chosen stream.

    A page opened with ``?stream=ID`` (an alert's link) starts on that stream; after that
    the selector's choice is kept."""
    snapshot = current_data().snapshot()
    new_options = options_for_streams(snapshot)
    ids = [o["value"] for o in new_options]
    wanted = parse_qs((search or "").lstrip("?")).get("stream", [None])[0]
    if not options and wanted in ids:
        selected = wanted
    value = selected if selected in ids else (ids[0] if ids else None)
    if new_options == (options or []) and value == selected:
        raise PreventUpdate
    style = {"display": "block"} if len(ids) > 1 else {"display": "none"}
    return new_options, value, style


def choose_stream(value: str | None) -> str | None:
    """Remember the stream picked in the selector."""
    return value


def _register_shell_callbacks(app: dash.Dash) -> None:
    app.callback(
        Output("app-lang", "data"),
        Output("app-lang-toggle", "value"),
        Input("app-lang-toggle", "value"),
        Input("app-lang", "data"),
    )(checked(sync_lang, raw, raw))
    app.callback(
        Output("app-brand", "children"),
        *[Output(f"app-{n.replace('.', '-')}", "children") for n in _NAV],
        Output("app-stream-select", "placeholder"),
        Input("app-lang", "data"),
    )(checked(shell_texts, raw))
    app.callback(Output("app-shell", "className"), Input("_pages_location", "pathname"))(
        checked(shell_mode, raw)
    )
    app.callback(Output("app-nav-screen", "style"), Input("_pages_location", "pathname"))(
        checked(screen_link_style, raw)
    )
    app.callback(
        Output("app-stream-select", "options"),
        Output("app-stream-select", "value"),
        Output("app-stream-select", "style"),
        Input("app-interval", "n_intervals"),
        State("app-stream-select", "value"),
        State("app-stream-select", "options"),
        State("_pages_location", "search"),
    )(checked(refresh_streams, count, ident, raw, text_field))
    app.callback(Output("app-stream", "data"), Input("app-stream-select", "value"))(
        checked(choose_stream, ident)
    )


def create_app(
    config: DashboardConfig,
    *,
    data: DataSource | None = None,
    registry_writer: RegistryWriter | None = None,
) -> dash.Dash:
    """Build the dashboard; without ``data`` it starts a ``LiveData`` following Kafka.

    ``registry_writer`` is where the admin page writes partners and tokens (by default the
    registry topic through ``RegistryStore``).
    """
    if data is None:
        live = LiveData(config.shared.kafka)
        live.start()
        data = live
    source = data
    app = dash.Dash(
        "dashboard",
        use_pages=True,
        title="livetally",
        update_title="",
        suppress_callback_exceptions=True,
    )
    server = app.server
    requested = RequestData(source)
    server.extensions[EXTENSION] = requested
    signer = SessionSigner(
        load_secret_key(config.secret_key, config.shared.home), config.session_hours
    )
    install_auth(
        server,
        lambda: source.snapshot().registry,
        signer,
        session_hours=config.session_hours,
    )
    install_guards(app)
    register_api(
        server, requested, slots=ExportSlots(config.exports_per_token, config.exports_total)
    )
    if registry_writer is None:
        from contract.registry_store import RegistryStore

        registry_writer = RegistryStore(config.registry_writer_kafka)
    register_admin_api(server, AdminActions(registry_writer, lambda: source.snapshot().registry))
    app.layout = shell(config)
    _register_shell_callbacks(app)
    return app


def serve(config: DashboardConfig) -> None:
    """Run the dashboard under gunicorn (see ``dashboard.server``) until SIGTERM/SIGINT."""
    from dashboard.server import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    check_login(config.shared.kafka)
    logger.info("dashboard on %s", config.base_url)
    run(config, lambda: _with_public_counter(config, create_app(config)))


def _with_public_counter(config: DashboardConfig, app: dash.Dash) -> Any:
    """The app's WSGI server, with the public counter started beside it on its own port
    (in the gunicorn worker: it reads the same followed topics)."""
    if config.public_port:
        from dashboard.public import serve_public

        serve_public(config.host, config.public_port, app.server.extensions[EXTENSION].full)
    return app.server
