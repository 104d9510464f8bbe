"""Signed sign-in sessions: the cookie holds a token's id and an expiry, never the token.

The signing key is ``LIVETALLY_SECRET_KEY``, or one generated once under
``$LIVETALLY_HOME/dashboard/secret_key`` (mode 0600); every dashboard replica given the
same key accepts the others' sessions. A session ends at its expiry, or as soon as its
token is revoked or expires (the token is looked up in the registry on every request).
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer

from contract.registry import Token

__all__ = [
    "PLAIN_COOKIE",
    "SECURE_COOKIE",
    "Session",
    "SessionSigner",
    "cookie_name",
    "load_secret_key",
]

PLAIN_COOKIE = "livetally_session"
"""The session cookie's name on plain HTTP (a developer's machine)."""
SECURE_COOKIE = "__Host-livetally_session"
"""Its name over HTTPS: browsers only accept a ``__Host-`` cookie that is ``Secure``, for
``Path=/`` and without a ``Domain``, so no other host or path can plant or read it."""
_SALT = "livetally-session-v1"
_LIMITED_SALT = "livetally-session-limited-v1"
"""A limited token's sessions are signed apart: a dashboard of an earlier release, which
knows no limits, cannot read such a cookie (it fails its signature there) and so never
takes the session for an unlimited one."""
_MIN_KEY_BYTES = 16


def cookie_name(secure: bool) -> str:
    """The session cookie's name for a request over HTTPS (``secure``) or not."""
    return SECURE_COOKIE if secure else PLAIN_COOKIE


@dataclass(frozen=True)
class Session:
    """What a session cookie says: whose token, and until when (epoch milliseconds)."""

    token_id: str
    expires_ms: int
    limited: bool = False
    """Signed as a limited token's session; only a limited token may be read from it."""

    def fits(self, token: Token) -> bool:
        """Whether ``token`` is the kind of token this session was signed for."""
        return self.limited == (token.hash_field != "token_hash")


class SessionSigner:
    """Issues and checks session cookie values."""

    def __init__(self, secret_key: bytes, hours: float) -> None:
        if len(secret_key) < _MIN_KEY_BYTES:
            raise ValueError(f"the session key must be at least {_MIN_KEY_BYTES} bytes")
        if not hours > 0:
            raise ValueError("session hours must be positive")
        self._serializer = URLSafeSerializer(secret_key, salt=_SALT)
        self._limited = URLSafeSerializer(secret_key, salt=_LIMITED_SALT)
        self._lifetime_ms = int(hours * 3600 * 1000)

    def due_for_renewal(self, session: Session, now_ms: int) -> bool:
        """Whether a session in use has less than half its life left: it is then issued
        again, so that a screen left open on a page stays signed in while its token lasts."""
        return session.expires_ms - now_ms < self._lifetime_ms // 2

    def issue(self, token: Token, now_ms: int) -> tuple[str, int]:
        """A cookie value for ``token`` and its max-age in seconds (never past the token's
        own expiry)."""
        expires = now_ms + self._lifetime_ms
        if token.expires_at:
            expires = min(expires, token.expires_at)
        serializer = self._serializer if token.hash_field == "token_hash" else self._limited
        value = serializer.dumps({"t": token.id, "e": expires})
        return value, max(1, (expires - now_ms) // 1000)

    def read(self, value: str | None, now_ms: int) -> Session | None:
        """The session in a cookie value, if it is ours, well formed and not expired."""
        if not value or len(value) > 512:
            return None
        for limited, serializer in ((False, self._serializer), (True, self._limited)):
            try:
                doc = serializer.loads(value)
            except BadSignature:
                continue
            if not isinstance(doc, dict):
                return None
            token_id, expires = doc.get("t"), doc.get("e")
            if not isinstance(token_id, str) or type(expires) is not int or expires <= now_ms:
                return None
            return Session(token_id, expires, limited)
        return None


def load_secret_key(configured: str, home: Path) -> bytes:
    """``configured`` (``LIVETALLY_SECRET_KEY``) if set, else the key kept under ``home``,
    generated on first use. Several processes starting at once agree on one key."""
    if configured:
        key = configured.encode()
        if len(key) < _MIN_KEY_BYTES:
            raise ValueError(
                f"LIVETALLY_SECRET_KEY must be at least {_MIN_KEY_BYTES} characters long"
            )
        return key
    path = home / "dashboard" / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
    for _ in range(50):  # another process may have created it a moment ago, not written yet
        key = path.read_text(encoding="ascii").strip().encode()
        if len(key) >= _MIN_KEY_BYTES:
            return key
        time.sleep(0.02)
    raise ValueError(f"{path} holds no usable session key; delete it to make a new one")
