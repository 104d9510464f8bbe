"""Token checks for every dashboard route: bearer header, one-time ``?token=`` link, cookie.

Admin paths (``/admin``, ``/api/v1/admin/...``) need an admin token. A state-changing
request that authenticates by cookie (a browser) must come from the dashboard's own origin
(``Origin`` or ``Referer`` header), so another site cannot make a signed-in browser post.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import flask

from contract.registry import Registry, Role
from dashboard.exceptions import Forbidden, NotAuthorized

__all__ = [
    "COOKIE",
    "OPEN_PATHS",
    "RedactTokens",
    "bearer_token",
    "current_role",
    "install_auth",
    "is_admin_path",
    "problem",
    "same_origin",
]

COOKIE = "livetally_token"
"""Name of the HttpOnly cookie that carries a page visitor's token."""
OPEN_PATHS = frozenset({"/healthz"})
"""Paths served without a token."""
_COOKIE_MAX_AGE_S = 30 * 24 * 3600


def _any_encoding(word: str) -> str:
    """A pattern for ``word`` with any of its letters percent-encoded (``%74oken``)."""
    return "".join(f"(?:{c}|%{ord(c.lower()):02x}|%{ord(c.upper()):02x})" for c in word)


_SECRET_IN_URL = re.compile(
    rf"((?:{_any_encoding('token')}|{_any_encoding('key')})(?:=|%3d))[^&\s\"']+",
    re.IGNORECASE,
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_admin_path(path: str) -> bool:
    """Whether a path is for admin tokens only."""
    return path in ("/admin", "/api/v1/admin") or path.startswith(("/admin/", "/api/v1/admin/"))


def same_origin(origin: str | None, referer: str | None, host: str) -> bool:
    """Whether a browser request came from a page of this host (``Origin``, else ``Referer``)."""
    source = origin if origin and origin != "null" else referer
    if not source:
        return False
    return urlsplit(source).netloc.lower() == host.lower()


def current_role() -> Role | None:
    """The role of the token of the current request (None outside an authenticated request)."""
    role: Role | None = flask.g.get("livetally_role")
    return role


def problem(status: int, title: str, detail: str) -> flask.Response:
    """An RFC 9457 problem response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    response = flask.make_response(flask.json.dumps(body), status)
    response.mimetype = "application/problem+json"
    return response


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if that is what it holds."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def _without_token(path: str, args: flask.Request) -> str:
    rest = [(k, v) for k, v in args.args.items(multi=True) if k != "token"]
    return path + ("?" + urlencode(rest) if rest else "")


def install_auth(server: flask.Flask, registry: Callable[[], Registry]) -> None:
    """Require a valid token on every route except ``OPEN_PATHS``."""

    def check_token() -> flask.typing.ResponseReturnValue | None:
        request = flask.request
        if request.path in OPEN_PATHS:
            return None
        link_token = request.args.get("token")
        if (
            link_token is not None
            and request.method == "GET"
            and not request.path.startswith("/api/")
        ):
            if registry().token_role(link_token) is None:
                return _refuse("the token in the link is not valid")
            response = flask.redirect(_without_token(request.path, request), code=303)
            response.set_cookie(
                COOKIE,
                link_token,
                max_age=_COOKIE_MAX_AGE_S,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure,
            )
            return response
        bearer = bearer_token(request.headers.get("Authorization"))
        token = bearer or request.cookies.get(COOKIE)
        role: Role | None = registry().token_role(token) if token else None
        if role is None or not token:
            if token:
                return _refuse("the token is not valid")
            return _refuse(
                "send 'Authorization: Bearer <token>', or open the page once with ?token=<token>"
            )
        if is_admin_path(request.path) and role != "admin":
            return _forbid("this needs an admin token")
        if (
            bearer is None
            and request.method not in _SAFE_METHODS
            and not same_origin(
                request.headers.get("Origin"), request.headers.get("Referer"), request.host
            )
        ):
            return _forbid("cross-site request refused (Origin does not match this dashboard)")
        flask.g.livetally_role = role
        # Per-token limits key on a digest, so no secret is kept in them.
        flask.g.livetally_token_key = hashlib.sha256(token.encode()).hexdigest()[:16]
        return None

    server.before_request(check_token)


def _refuse(detail: str) -> flask.Response:
    error = NotAuthorized(detail)
    response = problem(error.status, error.title, error.detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="livetally"'
    return response


def _forbid(detail: str) -> flask.Response:
    error = Forbidden(detail)
    return problem(error.status, error.title, error.detail)


class RedactTokens(logging.Filter):
    """Hide tokens and keys that appear in logged URLs (werkzeug logs every request line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_IN_URL.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
