"""Registry records: their stored form across releases, and which keys a partner accepts."""

from __future__ import annotations

import hmac

import pytest

from contract.registry import (
    DEFAULT_RATE,
    DEFAULT_SESSION_TIMEOUT_S,
    DEFAULT_TZ,
    Partner,
    Registry,
    RegistryError,
    Segment,
    Stream,
    Token,
    from_record,
    hash_secret,
    record_key,
    to_record,
)

NOW = 1_700_000_000_000


def test_defaults_are_the_documented_ones():
    assert (DEFAULT_TZ, DEFAULT_SESSION_TIMEOUT_S, DEFAULT_RATE) == ("Asia/Shanghai", 30, 5000)
    assert Stream("s", "t").tz == DEFAULT_TZ
    partner = Partner("p", "P")
    assert (partner.session_timeout_s, partner.rate) == (30, 5000)


def test_a_record_written_before_key_rotation_existed_still_reads():
    old = {
        "kind": "partner",
        "id": "kandu",
        "name": "看度",
        "name_en": "",
        "mode": "sessions",
        "session_timeout_s": 30,
        "rate": 5000,
        "key_hash": hash_secret("ltk_old"),
        "revoked": False,
    }
    partner = from_record(old)
    assert isinstance(partner, Partner)
    assert (partner.previous_key_hash, partner.previous_key_expires_at) == ("", 0)
    assert Registry.of([partner]).partner_for_key("ltk_old") == partner


def test_a_partner_never_rotated_is_stored_as_before():
    partner = Partner("kandu", "看度", key_hash=hash_secret("k"))
    doc = to_record(partner)
    assert "previous_key_hash" not in doc and "previous_key_expires_at" not in doc
    assert from_record(doc) == partner


def test_a_rotated_partner_round_trips():
    partner = Partner(
        "kandu",
        "看度",
        key_hash=hash_secret("new"),
        previous_key_hash=hash_secret("old"),
        previous_key_expires_at=NOW,
    )
    assert from_record(to_record(partner)) == partner


def test_fields_of_a_later_release_are_ignored():
    doc = {**to_record(Stream("s", "t")), "colour": "red"}
    assert from_record(doc) == Stream("s", "t")
    token = Token("t1", "viewer", token_hash="h")
    assert from_record({**to_record(token), "scopes": ["a"]}) == token


@pytest.mark.parametrize(
    ("key", "now", "accepted"),
    [
        ("new", NOW - 1, True),
        ("new", NOW + 10**9, True),
        ("old", NOW - 1, True),
        ("old", NOW, False),
        ("old", NOW + 1, False),
        ("other", NOW - 1, False),
    ],
)
def test_the_previous_key_works_only_until_its_expiry(key, now, accepted):
    partner = Partner(
        "kandu",
        "看度",
        key_hash=hash_secret("new"),
        previous_key_hash=hash_secret("old"),
        previous_key_expires_at=NOW,
    )
    found = Registry.of([partner]).partner_for_key(key, now)
    assert (found == partner) is accepted


def test_a_revoked_partner_accepts_neither_key():
    partner = Partner(
        "kandu",
        "看度",
        key_hash=hash_secret("new"),
        revoked=True,
        previous_key_hash=hash_secret("old"),
        previous_key_expires_at=NOW,
    )
    registry = Registry.of([partner])
    assert registry.partner_for_key("new", NOW - 1) is None
    assert registry.partner_for_key("old", NOW - 1) is None


def test_without_a_time_the_previous_key_is_judged_by_the_clock():
    live = Partner(
        "a", "A", key_hash="x", previous_key_hash=hash_secret("old"), previous_key_expires_at=2**62
    )
    gone = Partner(
        "b", "B", key_hash="y", previous_key_hash=hash_secret("gone"), previous_key_expires_at=1
    )
    registry = Registry.of([live, gone])
    assert registry.partner_for_key("old") == live
    assert registry.partner_for_key("gone") is None


def test_a_segment_record_leaves_out_empty_optional_fields_and_round_trips():
    plain = Segment("opening", "carnival", 1_734_778_800, "开幕式")
    assert to_record(plain) == {
        "kind": "segment",
        "id": "opening",
        "stream": "carnival",
        "start": 1_734_778_800,
        "title": "开幕式",
    }
    full = Segment("opening", "carnival", 1_734_778_800, "开幕式", "Opening", 1_734_780_600)
    assert from_record(to_record(full)) == full
    assert record_key(full) == "segment/carnival/opening"
    assert full.display_title("en") == "Opening" and plain.display_title("en") == "开幕式"


@pytest.mark.parametrize("start", ["1734778800", 1.5, True])
def test_a_segment_time_must_be_a_whole_second(start):
    with pytest.raises(RegistryError, match="whole epoch second"):
        Segment("opening", "carnival", start, "开幕式")


def test_a_public_token_is_stored_where_an_earlier_release_never_matches_it():
    from contract.registry_actions import create_token

    stream = Stream("carnival", "嘉年华")
    token, secret = create_token(
        "public", streams=("carnival",), registry=Registry.of([stream]), now_ms=NOW
    )
    record = to_record(token)
    assert record["token_hash"] == "" and record["public_hash"] == hash_secret(secret)
    assert Registry.of([from_record(record)]).token_for(secret, NOW) == token
    # An earlier release drops the fields it does not know: nothing matches the secret.
    earlier = {k: v for k, v in record.items() if k not in ("public_hash", "streams")}
    assert not hmac.compare_digest(earlier["token_hash"], hash_secret(secret))
    with pytest.raises(RegistryError, match="belongs in public_hash"):
        Token("x", "public", token_hash="h", streams=("carnival",))


@pytest.mark.parametrize(
    ("role", "streams", "partner"),
    [("viewer", ("carnival",), ""), ("partner", (), "kandu"), ("partner", ("carnival",), "kandu")],
)
def test_a_limited_token_is_stored_where_an_earlier_release_never_matches_it(
    role, streams, partner
):
    from contract.registry_actions import create_token

    registry = Registry.of([Stream("carnival", "嘉年华"), Partner("kandu", "看度")])
    token, secret = create_token(
        role, streams=streams, partner=partner, registry=registry, now_ms=NOW
    )
    record = to_record(token)
    assert record["token_hash"] == "" and record["scoped_hash"] == hash_secret(secret)
    assert "public_hash" not in record
    assert Registry.of([from_record(record)]).token_for(secret, NOW) == token
    # An earlier release drops the fields it does not know; read at worst as an unlimited
    # viewer, the record matches no secret (its token_hash is empty).
    earlier = {k: v for k, v in record.items() if k not in ("scoped_hash", "streams", "partner")}
    as_viewer = from_record({**earlier, "role": "viewer"})
    assert as_viewer.streams == () and as_viewer.partner == ""
    assert Registry.of([as_viewer]).token_for(secret, NOW) is None


def test_a_token_is_made_only_for_a_live_partner_and_streams_it_may_post_to():
    from contract.registry_actions import create_token

    registry = Registry.of(
        [
            Stream("carnival", "嘉年华"),
            Stream("gala", "晚会"),
            Partner("kandu", "看度", streams=("carnival",)),
            Partner("gone", "停", revoked=True),
        ]
    )
    token, _ = create_token(
        "partner", partner="kandu", streams=("carnival", "carnival"), registry=registry
    )
    assert token.streams == ("carnival",)  # named twice, kept once
    with pytest.raises(RegistryError, match="'kandu' may not post to gala"):
        create_token("partner", partner="kandu", streams=("gala",), registry=registry)
    with pytest.raises(RegistryError, match="'gone' is revoked"):
        create_token("partner", partner="gone", registry=registry)
    viewer, _ = create_token("viewer", streams=("gala", "carnival", "gala"), registry=registry)
    assert viewer.streams == ("gala", "carnival")


def test_an_unlimited_viewer_keeps_its_hash_where_every_release_reads_it():
    from contract.registry_actions import create_token

    token, secret = create_token("viewer", now_ms=NOW)
    record = to_record(token)
    assert record["token_hash"] == hash_secret(secret)
    assert not {"scoped_hash", "public_hash", "partner", "streams"} & set(record)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"role": "partner"}, "names its partner"),
        ({"role": "viewer", "partner": "kandu"}, "names its partner"),
        ({"role": "admin", "streams": ("carnival",)}, "cannot be limited"),
        ({"role": "partner", "partner": "Bad Id"}, "partner id"),
        ({"role": "partner", "partner": "kandu", "token_hash": "h"}, "belongs in scoped_hash"),
        ({"role": "viewer", "streams": ("carnival",), "token_hash": "h"}, "in scoped_hash"),
        ({"role": "viewer", "scoped_hash": "h"}, "belongs in token_hash"),
    ],
)
def test_token_rules(fields, message):
    with pytest.raises(RegistryError, match=message):
        Token("x", **fields)


def test_a_token_role_text_names_its_limits():
    assert Token("a", "viewer").role_text() == "viewer"
    assert Token("b", "viewer", streams=("c1", "c2")).role_text() == "viewer (c1, c2)"
    token = Token("c", "partner", partner="kandu", streams=("c1",))
    assert token.role_text() == "partner kandu (c1)"
