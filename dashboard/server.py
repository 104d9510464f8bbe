"""The dashboard's production web server: gunicorn, one process, a bounded thread pool.

Why gunicorn (``gthread`` worker) and not waitress: both are maintained pure-Python WSGI
servers, but gunicorn brings request-line and header limits, a per-request timeout that
replaces a stuck worker, and a graceful ``SIGTERM`` (requests in flight finish, then exit
0) out of the box. One worker process per host, always: each dashboard process follows the
Kafka topics into memory, so a second process would double that work for nothing; threads
serve the concurrent requests. Scale out with more hosts behind a load balancer (they share
sessions through ``LIVETALLY_SECRET_KEY``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from dashboard.auth import RedactTokens
from dashboard.config import DashboardConfig
from dashboard.proxies import TrustedProxies, parse_networks

__all__ = ["GRACEFUL_TIMEOUT_S", "run", "server_options"]

GRACEFUL_TIMEOUT_S = 8
"""How long requests in flight get to finish after SIGTERM (the stop deadline is 10 s)."""
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
"""The path without its query string: a sign-in link's ``?token=`` never reaches a log."""


def server_options(config: DashboardConfig) -> dict[str, Any]:
    """gunicorn settings for ``config``."""
    return {
        "bind": [f"{config.host}:{config.port}"],
        "workers": 1,
        "worker_class": "gthread",
        "threads": config.threads,
        # Connections held open at once, idle keep-alive ones included: every open page
        # keeps a few (its interval callbacks), so this bounds the screens one process
        # serves; beyond it new connections wait in the kernel's backlog.
        "worker_connections": config.max_connections,
        "backlog": 1024,
        "timeout": config.request_timeout_s,
        "graceful_timeout": GRACEFUL_TIMEOUT_S,
        "keepalive": 5,
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        # X-Forwarded-* are applied by TrustedProxies, for the operator's proxies only.
        "forwarded_allow_ips": "",
        "preload_app": False,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "livetally-dashboard",
    }


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any], load: Callable[[], Any]) -> None:
        self._options = options
        self._load = load
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        # Belt and braces: the access log leaves query strings out, and any other line
        # (an error naming a request) has tokens and keys in URLs redacted.
        for name in ("gunicorn.access", "gunicorn.error"):
            logging.getLogger(name).addFilter(RedactTokens())

    def load(self) -> Any:
        return self._load()


def run(config: DashboardConfig, make_wsgi: Callable[[], Any]) -> None:
    """Serve the WSGI app ``make_wsgi`` builds (in the worker process) until stopped."""
    networks = parse_networks(config.trusted_proxies)
    _Server(server_options(config), lambda: TrustedProxies(make_wsgi(), networks)).run()
