"""Token checks for every dashboard route: bearer header, sign-in link, session cookie.

Admin paths (``/admin``, ``/api/v1/admin/...``) need an admin token. A state-changing
request that authenticates by cookie (a browser) must come from the dashboard's own origin
(``Origin`` or ``Referer`` header), so another site cannot make a signed-in browser post.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import flask
from werkzeug.wrappers import Response as WerkzeugResponse

from contract.registry import Registry, Role, Token
from dashboard.exceptions import Forbidden, NotAuthorized
from dashboard.i18n import Lang, lang_of, text
from dashboard.scope import Scope
from dashboard.sessions import PLAIN_COOKIE, SECURE_COOKIE, SessionSigner, cookie_name
from dashboard.signin import SIGNIN_PATH, render_signin, safe_next

__all__ = [
    "OPEN_PATHS",
    "WWW_AUTHENTICATE",
    "RedactTokens",
    "bearer_token",
    "current_role",
    "install_auth",
    "is_admin_path",
    "problem",
    "same_origin",
]

WWW_AUTHENTICATE = 'Bearer realm="livetally"'
"""The ``WWW-Authenticate`` header of every 401: the scheme an API client answers with."""

OPEN_PATHS = frozenset({"/healthz"})
"""Paths served without a token (and ``/signin``, which takes one)."""
_MACHINE_PREFIXES = ("/api/", "/_dash-", "/_reload-hash", "/_favicon", "/assets/")


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


def _now_ms() -> int:
    return int(time.time() * 1000)


def _browser_page(request: flask.Request) -> bool:
    """Whether a browser asks for a page (not the API, not Dash's own requests)."""
    return (
        request.method in ("GET", "HEAD")
        and not request.path.startswith(_MACHINE_PREFIXES)
        and "text/html" in request.headers.get("Accept", "")
    )


def _page_lang(request: flask.Request) -> Lang:
    chosen = request.values.get("lang")
    if chosen in ("zh", "en"):
        return lang_of(chosen)
    accepted = request.headers.get("Accept-Language", "").strip().lower()
    return "en" if accepted.startswith("en") else "zh"


def install_auth(
    server: flask.Flask,
    registry: Callable[[], Registry],
    signer: SessionSigner,
    *,
    session_hours: float,
    clock_ms: Callable[[], int] = _now_ms,
) -> None:
    """Require a valid token or session on every route except ``OPEN_PATHS``.

    ``?token=T`` on a page is exchanged for a signed session cookie and a redirect to the
    same URL without it; ``Authorization: Bearer T`` is checked on every request; a browser
    without either gets the sign-in page, an API client a problem+json 401.
    """

    def set_session(response: WerkzeugResponse, token: Token, now: int) -> None:
        value, max_age = signer.issue(token, now)
        secure = flask.request.is_secure
        response.set_cookie(
            cookie_name(secure),
            value,
            max_age=max_age,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=secure,
        )

    def start_session(token: Token, target: str, now: int) -> WerkzeugResponse:
        response = flask.redirect(target, code=303)
        set_session(response, token, now)
        response.headers["Cache-Control"] = "no-store"
        return response

    def signin_page(status: int, error: str | None = None) -> flask.Response:
        request = flask.request
        target = safe_next(
            request.values.get("next")
            if request.path == SIGNIN_PATH
            else _without_token(request.path, request)
        )
        lang = _page_lang(request)
        page = render_signin(lang, next_path=target, hours=session_hours, error=error)
        response = flask.make_response(page, status)
        response.mimetype = "text/html"
        response.headers["Cache-Control"] = "no-store"
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="livetally"'
        return response

    def sign_in() -> flask.typing.ResponseReturnValue:
        request = flask.request
        if request.method != "POST":
            return signin_page(200)
        if not same_origin(
            request.headers.get("Origin"), request.headers.get("Referer"), request.host
        ):
            return _forbid("sign-in refused: the form must be posted from this dashboard")
        now = clock_ms()
        secret = request.form.get("token", "").strip()
        token = registry().token_for(secret, now) if 0 < len(secret) <= 200 else None
        if token is None:
            return signin_page(401, text("signin.invalid", _page_lang(request)))
        if token.role == "public":
            return _forbid(_PUBLIC_ONLY)
        return start_session(token, safe_next(request.form.get("next")), now)

    server.add_url_rule(SIGNIN_PATH, "livetally_signin", sign_in, methods=["GET", "POST"])

    def session_token(now: int) -> Token | None:
        cookies = flask.request.cookies
        for name in (SECURE_COOKIE, PLAIN_COOKIE):
            session = signer.read(cookies.get(name), now)
            if session is not None:
                token = registry().active_token(session.token_id, now)
                if token is not None and session.fits(token):
                    if signer.due_for_renewal(session, now):
                        flask.g.livetally_renew = token
                    return token
        return None

    def renew(response: WerkzeugResponse) -> WerkzeugResponse:
        token: Token | None = flask.g.pop("livetally_renew", None)
        if token is not None and response.status_code < 400:
            set_session(response, token, clock_ms())
        return response

    def check_token() -> flask.typing.ResponseReturnValue | None:
        request = flask.request
        if request.path in OPEN_PATHS or request.path == SIGNIN_PATH:
            return None
        now = clock_ms()
        link_token = request.args.get("token")
        if (
            link_token is not None
            and request.method == "GET"
            and not request.path.startswith("/api/")
        ):
            token = registry().token_for(link_token, now) if len(link_token) <= 200 else None
            if token is None:
                return signin_page(401, text("signin.invalid", _page_lang(request)))
            if token.role == "public":
                return _forbid(_PUBLIC_ONLY)
            return start_session(token, _without_token(request.path, request), now)
        bearer = bearer_token(request.headers.get("Authorization"))
        if bearer is not None:
            token = registry().token_for(bearer, now) if len(bearer) <= 200 else None
            if token is None:
                return _refuse("the token is not valid, was revoked or has expired")
        else:
            token = session_token(now)
            if token is None:
                signed_in = any(name in request.cookies for name in (SECURE_COOKIE, PLAIN_COOKIE))
                if _browser_page(request):
                    error = text("signin.expired", _page_lang(request)) if signed_in else None
                    return signin_page(401, error)
                if signed_in:
                    return _refuse("the session has ended; sign in again")
                return _refuse(
                    "send 'Authorization: Bearer <token>', or sign in at /signin "
                    "(or open a page once with ?token=<token>)"
                )
        if token.role == "public":
            return _forbid(_PUBLIC_ONLY)
        if token.partner:
            partner = registry().partners.get(token.partner)
            if partner is None or partner.revoked:
                return _forbid(
                    f"this token reads partner {token.partner!r}, which is revoked: "
                    "its tokens end with it"
                )
        if is_admin_path(request.path) and token.role != "admin":
            return _forbid("this needs an admin token")
        if token.role == "partner" and _whole_event_page(request.path):
            return _forbid(_PARTNER_ONLY)
        if (
            bearer is None
            and request.method not in _SAFE_METHODS
            and not same_origin(
                request.headers.get("Origin"), request.headers.get("Referer"), request.host
            )
        ):
            return _forbid("cross-site request refused (Origin does not match this dashboard)")
        flask.g.livetally_role = token.role
        flask.g.livetally_scope = Scope.of(token)
        # Per-token limits key on a digest of the token's id, so no secret is kept in them.
        flask.g.livetally_token_key = hashlib.sha256(token.id.encode()).hexdigest()[:16]
        return None

    server.before_request(check_token)
    server.after_request(renew)


def _whole_event_page(path: str) -> bool:
    """The venue's big screen, which shows the whole event (never one partner's part)."""
    return path == "/screen" or path.startswith("/screen/")


_PARTNER_ONLY = (
    "a partner token reads its own numbers, feed status and rejections "
    "(the live, monitor and exports pages and the stream API), not the big screen"
)

_PUBLIC_ONLY = (
    "a public token reads only its stream's public live counter "
    "(/api/v1/public/live and /embed, on the public port)"
)


def _refuse(detail: str) -> flask.Response:
    error = NotAuthorized(detail)
    response = problem(error.status, error.title, error.detail)
    response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
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
