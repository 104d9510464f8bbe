"""Signed sessions and their key: the pure parts of sign-in."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from contract.registry import Token
from dashboard.sessions import Session, SessionSigner, load_secret_key

KEY = b"k" * 32
NOW = 1_734_750_000_000


def test_a_session_carries_the_token_id_and_expiry_not_the_token():
    signer = SessionSigner(KEY, hours=12)
    value, max_age = signer.issue(Token("t1", "viewer", token_hash="h" * 64), NOW)
    assert max_age == 12 * 3600
    assert "h" * 16 not in value
    assert signer.read(value, NOW) == Session("t1", NOW + 12 * 3600_000)
    assert signer.read(value, NOW + 12 * 3600_000) is None  # expired


def test_a_session_never_outlives_its_token():
    signer = SessionSigner(KEY, hours=12)
    token = Token("t1", "viewer", expires_at=NOW + 90_000)
    value, max_age = signer.issue(token, NOW)
    assert max_age == 90
    session = signer.read(value, NOW)
    assert session is not None and session.expires_ms == NOW + 90_000


def test_a_limited_tokens_session_is_signed_apart_from_an_unlimited_ones():
    from itsdangerous import BadSignature, URLSafeSerializer

    signer = SessionSigner(KEY, hours=12)
    limited = Token("t2", "partner", partner="kandu", scoped_hash="h" * 64)
    value, _ = signer.issue(limited, NOW)
    session = signer.read(value, NOW)
    assert session == Session("t2", NOW + 12 * 3600_000, limited=True)
    assert session.fits(limited) and not session.fits(Token("t2", "viewer"))
    # A dashboard of an earlier release signs and reads sessions with the first salt
    # only: a limited token's cookie fails its signature there.
    earlier = URLSafeSerializer(KEY, salt="livetally-session-v1")
    with pytest.raises(BadSignature):
        earlier.loads(value)
    plain, _ = signer.issue(Token("t2", "viewer", token_hash="h" * 64), NOW)
    assert earlier.loads(plain)["t"] == "t2"
    # A session signed for an unlimited token does not admit a limited one of that id.
    unlimited = signer.read(plain, NOW)
    assert unlimited is not None and not unlimited.fits(limited)


@pytest.mark.parametrize("value", [None, "", "x", "a.b", "e30.bad", "z" * 600])
def test_garbage_cookies_are_no_session(value):
    assert SessionSigner(KEY, hours=1).read(value, NOW) is None


def test_another_key_or_a_changed_payload_is_refused():
    value, _ = SessionSigner(KEY, hours=1).issue(Token("t1", "admin"), NOW)
    assert SessionSigner(b"o" * 32, hours=1).read(value, NOW) is None
    payload, _, signature = value.rpartition(".")
    assert SessionSigner(KEY, hours=1).read(payload + "x." + signature, NOW) is None


def test_the_key_is_generated_once_and_kept_private(tmp_path: Path):
    first = load_secret_key("", tmp_path)
    assert len(first) >= 32
    assert load_secret_key("", tmp_path) == first
    mode = stat.S_IMODE(os.stat(tmp_path / "dashboard" / "secret_key").st_mode)
    assert mode == 0o600
    assert load_secret_key("configured-key-0123456789", tmp_path) == b"configured-key-0123456789"
    with pytest.raises(ValueError, match="LIVETALLY_SECRET_KEY"):
        load_secret_key("short", tmp_path)
