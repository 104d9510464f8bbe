"""Partner authentication: the bearer header's parsing and the key's partner in a registry."""

from __future__ import annotations

import time

import pytest

from contract.registry import DEFAULT_KEY_GRACE_S, Partner, Registry, Stream, hash_secret
from ingest.auth import authenticate, bearer_key
from ingest.exceptions import Unauthorized

CURRENT = "pk_douyu_current"
PREVIOUS = "pk_douyu_previous"
REVOKED = "pk_gone_key"


def registry(previous_expires_at: int) -> Registry:
    return Registry.of(
        [
            Stream("carnival", "Carnival"),
            Partner(
                "douyu",
                "斗鱼",
                key_hash=hash_secret(CURRENT),
                previous_key_hash=hash_secret(PREVIOUS),
                previous_key_expires_at=previous_expires_at,
            ),
            Partner("huya", "虎牙", key_hash=hash_secret("pk_huya_key")),
            Partner("gone", "Gone", key_hash=hash_secret(REVOKED), revoked=True),
        ]
    )


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Bearer pk_abc", "pk_abc"),
        ("bearer pk_abc", "pk_abc"),
        ("BEARER pk_abc", "pk_abc"),
        ("Bearer   pk_abc  ", "pk_abc"),
        ("  Bearer pk_abc", "pk_abc"),
        ("Bearer pk_a-b_c.d", "pk_a-b_c.d"),
    ],
)
def test_the_key_is_what_follows_the_bearer_scheme(header, key):
    assert bearer_key(header) == key


@pytest.mark.parametrize(
    ("header", "says"),
    [
        (None, "missing"),
        ("", "missing"),
        ("Bearer", "must be 'Bearer <API key>'"),
        ("Bearer ", "must be 'Bearer <API key>'"),
        ("Bearer    ", "must be 'Bearer <API key>'"),
        ("Basic dXNlcjpwYXNz", "must be 'Bearer <API key>'"),
        ("Token pk_abc", "must be 'Bearer <API key>'"),
        ("pk_abc", "must be 'Bearer <API key>'"),
        ("Bearerpk_abc", "must be 'Bearer <API key>'"),
        ("   ", "must be 'Bearer <API key>'"),
    ],
)
def test_a_header_that_is_not_bearer_and_a_key_is_unauthorized(header, says):
    with pytest.raises(Unauthorized) as caught:
        bearer_key(header)
    assert caught.value.code == "unauthorized"
    assert says in caught.value.detail


def test_the_current_key_authenticates_its_partner():
    partner = authenticate(registry(0), f"Bearer {CURRENT}")
    assert partner.id == "douyu"


def test_another_partner_s_key_authenticates_that_partner():
    assert authenticate(registry(0), "Bearer pk_huya_key").id == "huya"


def test_a_rotated_key_still_authenticates_during_its_grace_period():
    in_grace = registry(now_ms() + DEFAULT_KEY_GRACE_S * 1000)
    assert authenticate(in_grace, f"Bearer {PREVIOUS}").id == "douyu"
    assert authenticate(in_grace, f"Bearer {CURRENT}").id == "douyu"


@pytest.mark.parametrize("expired_ago_ms", [1, 60_000, DEFAULT_KEY_GRACE_S * 1000])
def test_a_rotated_key_is_unauthorized_after_its_grace_period(expired_ago_ms):
    after_grace = registry(now_ms() - expired_ago_ms)
    with pytest.raises(Unauthorized, match="unknown or revoked"):
        authenticate(after_grace, f"Bearer {PREVIOUS}")
    assert authenticate(after_grace, f"Bearer {CURRENT}").id == "douyu"


def test_a_rotation_without_a_grace_period_refuses_the_previous_key_at_once():
    with pytest.raises(Unauthorized):
        authenticate(registry(0), f"Bearer {PREVIOUS}")


def test_a_revoked_partner_s_key_is_unauthorized():
    with pytest.raises(Unauthorized, match="unknown or revoked"):
        authenticate(registry(0), f"Bearer {REVOKED}")


def test_a_revoked_partner_s_rotated_key_is_unauthorized_even_in_its_grace_period():
    revoked = Partner(
        "gone",
        "Gone",
        key_hash=hash_secret(REVOKED),
        previous_key_hash=hash_secret("pk_gone_old"),
        previous_key_expires_at=now_ms() + 3_600_000,
        revoked=True,
    )
    snapshot = Registry.of([revoked])
    for key in (REVOKED, "pk_gone_old"):
        with pytest.raises(Unauthorized):
            authenticate(snapshot, f"Bearer {key}")


@pytest.mark.parametrize("key", ["pk_unknown", CURRENT.upper(), CURRENT + "x", CURRENT[:-1]])
def test_an_unknown_key_is_unauthorized(key):
    with pytest.raises(Unauthorized, match="unknown or revoked"):
        authenticate(registry(0), f"Bearer {key}")


def test_an_empty_registry_knows_no_key():
    with pytest.raises(Unauthorized):
        authenticate(Registry(), f"Bearer {CURRENT}")


@pytest.mark.parametrize("header", [None, "Basic abc", f"Token {CURRENT}"])
def test_a_malformed_header_is_refused_before_the_registry_is_asked(header):
    with pytest.raises(Unauthorized, match="Authorization header"):
        authenticate(registry(0), header)


def test_the_refusal_never_echoes_the_key():
    key = "pk_secret_that_must_not_leak"
    with pytest.raises(Unauthorized) as caught:
        authenticate(registry(0), f"Bearer {key}")
    assert key not in str(caught.value) and key not in caught.value.detail
