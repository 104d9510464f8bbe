"""Trusting ``X-Forwarded-*`` headers only from the proxies the operator named.

Behind a TLS-terminating proxy the dashboard sees plain HTTP; the proxy's
``X-Forwarded-Proto: https`` is what makes session cookies ``Secure`` (and ``__Host-``)
and redirects ``https``. Anyone else could send the same header, so it is honoured only
when the connection comes from an address in ``LIVETALLY_TRUSTED_PROXIES``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

from contract.settings import SettingsError

__all__ = ["TrustedProxies", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """``127.0.0.1,10.0.0.0/8,::1`` as networks; a wrong item names the variable."""
    networks: list[Network] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(
                f"LIVETALLY_TRUSTED_PROXIES item {item!r} is not an IP address or network"
            ) from None
    return tuple(networks)


def _trusted(address: str | None, networks: Iterable[Network]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


class TrustedProxies:
    """WSGI middleware: one proxy hop of ``X-Forwarded-For/-Proto/-Host/-Port`` is applied
    for requests from a trusted proxy; from anyone else those headers are dropped."""

    _FORWARDED = (
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_FORWARDED_PROTO",
        "HTTP_X_FORWARDED_HOST",
        "HTTP_X_FORWARDED_PORT",
        "HTTP_X_FORWARDED_PREFIX",
        "HTTP_FORWARDED",
    )

    def __init__(self, app: Any, networks: tuple[Network, ...]) -> None:
        self._app = app
        self._networks = networks
        self._fixed = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=0)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._networks and _trusted(environ.get("REMOTE_ADDR"), self._networks):
            return self._fixed(environ, start_response)
        for name in self._FORWARDED:
            environ.pop(name, None)
        return self._app(environ, start_response)
