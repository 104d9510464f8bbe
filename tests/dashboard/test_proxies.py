"""X-Forwarded-* headers: honoured from the operator's proxies, dropped from anyone else."""

from __future__ import annotations

import pytest

from contract.settings import SettingsError
from dashboard.proxies import TrustedProxies, parse_networks


def test_trusted_proxy_networks():
    assert [str(n) for n in parse_networks(" 127.0.0.1, 10.0.0.0/8,::1 ,")] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    with pytest.raises(SettingsError, match="LIVETALLY_TRUSTED_PROXIES"):
        parse_networks("10.0.0.0/8,proxy.local")


def test_a_network_with_host_bits_set_is_the_network_and_none_is_empty():
    assert [str(n) for n in parse_networks("10.1.2.3/8")] == ["10.0.0.0/8"]
    assert parse_networks("") == () and parse_networks(" , ") == ()


def _seen(networks: str, remote: str | None, **headers: str) -> dict[str, str]:
    seen: dict[str, str] = {}

    def app(environ, start_response):
        seen.update(
            scheme=environ["wsgi.url_scheme"],
            host=environ.get("HTTP_HOST", ""),
            remote=environ.get("REMOTE_ADDR", ""),
            proto=environ.get("HTTP_X_FORWARDED_PROTO", ""),
        )
        return []

    environ = {
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "10.0.0.5:8050",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_FORWARDED_HOST": "tally.example",
        "HTTP_X_FORWARDED_FOR": "203.0.113.7",
        **headers,
    }
    if remote is not None:
        environ["REMOTE_ADDR"] = remote
    TrustedProxies(app, parse_networks(networks))(environ, lambda *a: None)
    return seen


def test_forwarded_headers_count_only_from_a_trusted_proxy():
    trusted = _seen("10.0.0.0/8", "10.0.0.9")
    assert trusted == {
        "scheme": "https",
        "host": "tally.example",
        "remote": "203.0.113.7",
        "proto": "https",
    }
    stranger = _seen("10.0.0.0/8", "198.51.100.1")
    assert stranger == {
        "scheme": "http",
        "host": "10.0.0.5:8050",
        "remote": "198.51.100.1",
        "proto": "",
    }
    assert _seen("", "10.0.0.9")["scheme"] == "http"  # none configured: none trusted


@pytest.mark.parametrize("remote", [None, "", "not-an-address", "10.0.0.9%eth0x"])
def test_an_unknown_or_garbled_peer_is_not_trusted(remote):
    assert _seen("10.0.0.0/8", remote)["scheme"] == "http"


def test_an_ipv6_proxy_is_trusted_by_its_network():
    assert _seen("fd00::/8", "fd12::1")["scheme"] == "https"
    assert _seen("fd00::/8", "2001:db8::1")["scheme"] == "http"


def test_every_forwarding_header_is_dropped_from_a_stranger():
    seen: dict[str, object] = {}

    def app(environ, start_response):
        seen.update(environ)
        return []

    environ = {
        "REMOTE_ADDR": "198.51.100.1",
        "wsgi.url_scheme": "http",
        "HTTP_FORWARDED": "for=203.0.113.7;proto=https",
        "HTTP_X_FORWARDED_PORT": "443",
        "HTTP_X_FORWARDED_PREFIX": "/tally",
        "HTTP_X_FORWARDED_PROTO": "https",
    }
    TrustedProxies(app, parse_networks("10.0.0.0/8"))(environ, lambda *a: None)
    assert not [name for name in seen if "FORWARDED" in name]
