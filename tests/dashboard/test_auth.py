"""Tokens on every route: bearer header, one-time ?token= link that sets a cookie, the cookie."""

from __future__ import annotations

import logging

import pytest

from dashboard.auth import COOKIE, RedactTokens, bearer_token
from tests.dashboard.builders import VIEWER_TOKEN

BEARER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}


@pytest.fixture
def client(app_and_data):
    app, _ = app_and_data
    return app.server.test_client()


def test_healthz_needs_no_token(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/screen",
        "/monitor",
        "/exports",
        "/admin",
        "/api/v1/streams/carnival/export",
        "/api/v1/streams/carnival/report",
        "/_dash-layout",
        "/_dash-dependencies",
        "/_reload-hash",
        "/api/v1/streams",
        "/assets/livetally.css",
    ],
)
def test_every_route_refuses_a_request_without_token(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 401


def test_dash_callbacks_refuse_a_request_without_token(client):
    assert client.post("/_dash-update-component", json={}).status_code == 401


def test_bad_bearer_token_is_refused(client):
    response = client.get("/api/v1/streams", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert "not valid" in response.json["detail"]


def test_valid_bearer_token_is_accepted(client):
    assert client.get("/api/v1/streams", headers=BEARER).status_code == 200
    assert client.get("/", headers=BEARER).status_code == 200


def test_token_link_sets_an_httponly_cookie_and_redirects_without_the_token(client):
    response = client.get(f"/screen?token={VIEWER_TOKEN}&kiosk=1")
    assert response.status_code == 303
    assert response.headers["Location"] == "/screen?kiosk=1"
    cookie = response.headers["Set-Cookie"]
    assert f"{COOKIE}={VIEWER_TOKEN}" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    later = client.get("/screen?kiosk=1")
    assert later.status_code == 200
    assert VIEWER_TOKEN not in later.get_data(as_text=True)
    assert client.get("/_dash-layout").status_code == 200


def test_bad_token_link_is_refused_without_a_cookie(client):
    response = client.get("/?token=wrong")
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers


def test_a_revoked_or_unknown_cookie_is_refused(client):
    client.set_cookie(COOKIE, "tok_unknown")
    assert client.get("/").status_code == 401


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
