"""Tokens on every route: bearer header, a sign-in link or form that starts a signed session."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import pytest

from contract.registry import Registry, Token, hash_secret
from dashboard.auth import RedactTokens, bearer_token
from dashboard.data import StaticData
from dashboard.proxies import TrustedProxies, parse_networks
from dashboard.sessions import PLAIN_COOKIE, SECURE_COOKIE
from tests.dashboard.builders import VIEWER_TOKEN

BEARER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
NOW_MS = 1_734_778_800_000


@pytest.fixture
def client(app_and_data):
    app, _ = app_and_data
    return app.server.test_client()


def test_healthz_needs_no_token(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


PAGES = ["/", "/screen", "/monitor", "/exports", "/admin"]
MACHINE = [
    "/api/v1/streams/carnival/export",
    "/api/v1/streams/carnival/report",
    "/_dash-layout",
    "/_dash-dependencies",
    "/_reload-hash",
    "/api/v1/streams",
    "/assets/livetally.css",
]
HTML = {"Accept": "text/html,application/xhtml+xml"}


def _session_cookie(response) -> str:
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1
    return cookies[0]


@pytest.mark.parametrize("path", PAGES + MACHINE)
def test_every_route_refuses_a_request_without_token(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 401


@pytest.mark.parametrize("path", PAGES)
def test_a_browser_without_a_session_gets_the_sign_in_page(client, path):
    response = client.get(path, headers={**HTML, "Accept-Language": "en-GB,en;q=0.9"})
    assert response.status_code == 401
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<form method="post" action="/signin">' in page
    assert "Sign in" in page
    assert f'name="next" value="{path}' in page


def test_the_sign_in_page_is_chinese_by_default(client):
    page = client.get("/", headers=HTML).get_data(as_text=True)
    assert "访问令牌" in page and 'lang="zh-CN"' in page
    english = client.get("/signin?lang=en").get_data(as_text=True)
    assert "Access token" in english


@pytest.mark.parametrize("path", MACHINE)
def test_api_and_dash_requests_get_json_even_from_a_browser(client, path):
    response = client.get(path, headers=HTML)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_dash_callbacks_refuse_a_request_without_token(client):
    assert client.post("/_dash-update-component", json={}).status_code == 401


def test_bad_bearer_token_is_refused(client):
    response = client.get("/api/v1/streams", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert "not valid" in response.json["detail"]


def test_valid_bearer_token_is_accepted(client):
    assert client.get("/api/v1/streams", headers=BEARER).status_code == 200
    assert client.get("/", headers=BEARER).status_code == 200


def test_token_link_becomes_a_signed_session_and_a_redirect_without_the_token(client):
    response = client.get(f"/screen?token={VIEWER_TOKEN}&kiosk=1")
    assert response.status_code == 303
    assert response.headers["Location"] == "/screen?kiosk=1"
    cookie = _session_cookie(response)
    assert cookie.startswith(f"{PLAIN_COOKIE}=")
    assert VIEWER_TOKEN not in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age=43200" in cookie  # 12 hours by default
    assert "Secure" not in cookie  # plain HTTP here
    later = client.get("/screen?kiosk=1")
    assert later.status_code == 200
    assert VIEWER_TOKEN not in later.get_data(as_text=True)
    assert client.get("/_dash-layout").status_code == 200


def test_bad_token_link_gets_the_sign_in_page_and_no_cookie(client):
    response = client.get("/?token=wrong", headers=HTML)
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers
    assert "令牌无效" in response.get_data(as_text=True)


def test_a_forged_or_foreign_session_is_refused(client, config, sample_snapshot):
    from dashboard.app import create_app

    client.set_cookie(PLAIN_COOKIE, "eyJ0IjoidDEiLCJlIjo5OTk5OTk5OTk5OTk5fQ.forged")
    assert client.get("/").status_code == 401
    other = create_app(
        replace(config, secret_key="another-key-0123456789"), data=StaticData(sample_snapshot)
    )
    foreign = other.server.test_client()
    cookie = _session_cookie(foreign.get(f"/?token={VIEWER_TOKEN}"))
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    client.set_cookie(PLAIN_COOKIE, value)
    assert client.get("/").status_code == 401


def test_replicas_sharing_the_key_accept_each_others_sessions(client, config, sample_snapshot):
    from dashboard.app import create_app

    replica = create_app(config, data=StaticData(sample_snapshot)).server.test_client()
    cookie = _session_cookie(replica.get(f"/?token={VIEWER_TOKEN}"))
    client.set_cookie(PLAIN_COOKIE, cookie.split(";", 1)[0].split("=", 1)[1])
    assert client.get("/").status_code == 200


def test_revoking_the_token_ends_its_sessions(client, app_and_data, sample_snapshot):
    _, data = app_and_data
    assert client.get(f"/?token={VIEWER_TOKEN}").status_code == 303
    assert client.get("/").status_code == 200
    tokens = {**sample_snapshot.registry.tokens}
    tokens["t1"] = replace(tokens["t1"], revoked=True)
    data.set(replace(sample_snapshot, registry=replace(sample_snapshot.registry, tokens=tokens)))
    ended = client.get("/", headers=HTML)
    assert ended.status_code == 401
    assert "会话已结束" in ended.get_data(as_text=True)
    assert client.get("/api/v1/streams").json["detail"].startswith("the session has ended")


def test_an_expired_token_is_refused_and_caps_its_session(client, app_and_data, sample_snapshot):
    _, data = app_and_data
    now = int(time.time() * 1000)
    soon = Token("t2", "viewer", "brief", hash_secret("tok_brief"), expires_at=now + 60_000)
    gone = Token("t3", "viewer", "old", hash_secret("tok_gone"), expires_at=now - 1)
    registry = Registry.of([*sample_snapshot.registry.tokens.values(), soon, gone])
    data.set(
        replace(sample_snapshot, registry=replace(sample_snapshot.registry, tokens=registry.tokens))
    )
    capped = _session_cookie(client.get("/?token=tok_brief"))
    max_age = int(capped.split("Max-Age=")[1].split(";")[0])
    assert 55 <= max_age <= 60
    assert client.get("/?token=tok_gone").status_code == 401
    assert (
        client.get("/api/v1/streams", headers={"Authorization": "Bearer tok_gone"}).status_code
        == 401
    )


OWN = {"Origin": "http://localhost"}


def test_signing_in_with_the_form(client):
    refused = client.post("/signin", data={"token": "wrong", "next": "/screen"}, headers=OWN)
    assert refused.status_code == 401 and "Set-Cookie" not in refused.headers
    accepted = client.post(
        "/signin",
        data={"token": VIEWER_TOKEN, "next": "/screen?kiosk=1"},
        headers={"Origin": "http://localhost"},
    )
    assert accepted.status_code == 303
    assert accepted.headers["Location"] == "/screen?kiosk=1"
    assert client.get("/screen").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Origin": "null"}, {}, {"Referer": "https://x.example/"}],
)
def test_sign_in_from_another_site_is_refused(client, headers):
    response = client.post("/signin", data={"token": VIEWER_TOKEN}, headers=headers)
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers


def test_an_old_link_never_comes_back_after_signing_in(client):
    page = client.get("/screen?token=tok_expired&kiosk=1", headers=HTML).get_data(as_text=True)
    assert "tok_expired" not in page  # not in the form's next, nor in the language switch
    assert 'name="next" value="/screen?kiosk=1"' in page
    signed_in = client.post(
        "/signin", data={"token": VIEWER_TOKEN, "next": "/screen?kiosk=1"}, headers=OWN
    )
    assert signed_in.headers["Location"] == "/screen?kiosk=1"
    assert client.get("/screen?kiosk=1").status_code == 200


def test_a_session_in_use_is_renewed_before_it_ends(sample_snapshot):
    import flask

    from dashboard.auth import install_auth
    from dashboard.sessions import SessionSigner

    clock = [NOW_MS]
    server = flask.Flask("renewal")
    server.add_url_rule("/", "page", lambda: "ok")
    install_auth(
        server,
        lambda: sample_snapshot.registry,
        SessionSigner(b"renewal-key-0123456789", hours=12),
        session_hours=12,
        clock_ms=lambda: clock[0],
    )
    client = server.test_client()
    assert client.get(f"/?token={VIEWER_TOKEN}").status_code == 303
    clock[0] += 3 * 3600_000  # a quarter of 12 h: nothing to renew yet
    assert "Set-Cookie" not in client.get("/").headers
    clock[0] += 4 * 3600_000  # 7 h in: less than half left
    renewed = client.get("/")
    assert renewed.status_code == 200 and "Max-Age=43200" in renewed.headers["Set-Cookie"]
    clock[0] += 11 * 3600_000  # 18 h after signing in, 11 h after the renewal
    assert client.get("/").status_code == 200
    clock[0] += 13 * 3600_000  # unused for longer than a session: it has ended
    assert client.get("/").status_code == 401


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x", ""]
)
def test_sign_in_never_redirects_off_site(client, target):
    response = client.post("/signin", data={"token": VIEWER_TOKEN, "next": target}, headers=OWN)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_behind_a_trusted_tls_proxy_the_cookie_is_secure_and_host_prefixed(config, sample_snapshot):
    from dashboard.app import create_app

    app = create_app(config, data=StaticData(sample_snapshot))
    wsgi = TrustedProxies(app.server.wsgi_app, parse_networks("10.0.0.0/8"))
    app.server.wsgi_app = wsgi
    client = app.server.test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "tally.example"}
    proxied = client.get(
        f"/?token={VIEWER_TOKEN}", headers=forwarded, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    cookie = _session_cookie(proxied)
    assert cookie.startswith(f"{SECURE_COOKIE}=") and "Secure" in cookie
    assert "Domain" not in cookie
    direct = client.get(
        f"/?token={VIEWER_TOKEN}", headers=forwarded, environ_base={"REMOTE_ADDR": "192.0.2.9"}
    )
    assert _session_cookie(direct).startswith(f"{PLAIN_COOKIE}=")


def test_bearer_header_parsing():
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
    assert bearer_token(None) is None


def test_tokens_in_logged_request_lines_are_redacted():
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - "%s" %s',
        ("127.0.0.1", f"GET /screen?token={VIEWER_TOKEN}&x=1 HTTP/1.1", 303),
        None,
    )
    assert RedactTokens().filter(record)
    assert VIEWER_TOKEN not in record.getMessage()
    assert "token=[redacted]&x=1" in record.getMessage()


@pytest.mark.parametrize("name", ["%74oken=", "TOK%45N=", "token%3D", "%6b%65%79="])
def test_percent_encoded_token_names_are_redacted_too(name):
    line = f"GET /screen?{name}{VIEWER_TOKEN} HTTP/1.1"
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "%s", (line,), None)
    assert RedactTokens().filter(record)
    assert VIEWER_TOKEN not in record.getMessage()
    assert f"{name}[redacted]" in record.getMessage()
