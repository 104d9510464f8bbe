"""The admin actions both the CLI and the dashboard run, on an in-memory registry."""

from __future__ import annotations

import pytest

from contract import registry_actions as actions
from contract.registry import (
    DEFAULT_KEY_GRACE_S,
    AlreadyRegistered,
    NotRegistered,
    Partner,
    PartnerRevoked,
    Registry,
    RegistryError,
    Stream,
    hash_secret,
)

NOW = 1_700_000_000_000


class Memory:
    """The registry topic as a list: records written in order, the snapshot they make."""

    def __init__(self) -> None:
        self.items: list = []

    def put(self, item) -> None:
        self.items.append(item)

    @property
    def registry(self) -> Registry:
        return Registry.of(self.items)


@pytest.fixture
def memory() -> Memory:
    memory = Memory()
    partner, key = actions.add_partner(Registry(), "kandu", name="看度", rate=900)
    memory.put(partner)
    memory.key = key
    memory.put(actions.add_stream(Registry(), "carnival", title="嘉年华"))
    return memory


def test_a_new_partner_gets_the_defaults_and_a_key_stored_as_its_hash():
    partner, key = actions.add_partner(Registry(), "aikan", name=" 爱看 ", name_en="Aikan ")
    assert key.startswith("ltk_")
    assert partner.key_hash == hash_secret(key) and key not in repr(partner)
    assert (partner.name, partner.name_en, partner.mode) == ("爱看", "Aikan", "sessions")
    assert (partner.session_timeout_s, partner.rate) == (30, 5000)


def test_adding_a_registered_partner_is_refused_and_its_key_stays_valid(memory):
    with pytest.raises(AlreadyRegistered, match="kandu"):
        actions.add_partner(memory.registry, "kandu", name="other")
    assert memory.registry.partner_for_key(memory.key).name == "看度"


def test_replacing_a_partner_ends_its_old_key(memory):
    partner, key = actions.add_partner(
        memory.registry, "kandu", name="看度", mode="reports", replace_existing=True
    )
    memory.put(partner)
    assert memory.registry.partner_for_key(memory.key) is None
    assert memory.registry.partner_for_key(key).mode == "reports"


def test_a_revoked_partner_may_be_added_again(memory):
    memory.put(actions.revoke_partner(memory.registry, "kandu"))
    partner, key = actions.add_partner(memory.registry, "kandu", name="看度")
    memory.put(partner)
    assert memory.registry.partner_for_key(key) == partner


def test_rotating_keeps_the_old_key_for_the_grace_period(memory):
    partner, key = actions.rotate_key(memory.registry, "kandu", now_ms=NOW)
    memory.put(partner)
    registry = memory.registry
    end = NOW + DEFAULT_KEY_GRACE_S * 1000
    assert partner.previous_key_expires_at == end
    assert registry.partner_for_key(key, NOW) == partner
    assert registry.partner_for_key(memory.key, end - 1) == partner
    assert registry.partner_for_key(memory.key, end) is None
    assert registry.partner_for_key(key, end + 10**9) == partner
    assert (partner.rate, partner.name) == (900, "看度")  # settings are kept


def test_rotating_with_no_grace_ends_the_old_key_at_once(memory):
    partner, key = actions.rotate_key(memory.registry, "kandu", grace_s=0, now_ms=NOW)
    memory.put(partner)
    assert memory.registry.partner_for_key(memory.key, NOW) is None
    assert memory.registry.partner_for_key(key, NOW) == partner


def test_rotating_twice_ends_the_first_key(memory):
    first, first_key = actions.rotate_key(memory.registry, "kandu", now_ms=NOW)
    memory.put(first)
    second, second_key = actions.rotate_key(memory.registry, "kandu", now_ms=NOW + 1)
    memory.put(second)
    registry = memory.registry
    assert registry.partner_for_key(memory.key, NOW + 2) is None
    assert registry.partner_for_key(first_key, NOW + 2) == second
    assert registry.partner_for_key(second_key, NOW + 2) == second


@pytest.mark.parametrize("grace_s", [-1, 7 * 86400 + 1])
def test_a_grace_period_out_of_range_is_refused(memory, grace_s):
    with pytest.raises(RegistryError, match="grace"):
        actions.rotate_key(memory.registry, "kandu", grace_s=grace_s)


def test_a_revoked_partner_gets_no_new_key(memory):
    memory.put(actions.revoke_partner(memory.registry, "kandu"))
    with pytest.raises(PartnerRevoked, match="revoked"):
        actions.rotate_key(memory.registry, "kandu")


def test_revoking_during_the_grace_period_ends_both_keys(memory):
    partner, key = actions.rotate_key(memory.registry, "kandu", now_ms=NOW)
    memory.put(partner)
    memory.put(actions.revoke_partner(memory.registry, "kandu"))
    assert memory.registry.partner_for_key(key, NOW) is None
    assert memory.registry.partner_for_key(memory.key, NOW) is None


def test_updating_a_partner_keeps_its_key_and_other_settings(memory):
    partner = actions.update_partner(memory.registry, "kandu", rate=50, name_en="Kandu")
    memory.put(partner)
    assert (partner.rate, partner.name, partner.name_en, partner.session_timeout_s) == (
        50,
        "看度",
        "Kandu",
        30,
    )
    assert memory.registry.partner_for_key(memory.key) == partner


def test_updating_during_the_grace_period_keeps_the_old_key(memory):
    rotated, _ = actions.rotate_key(memory.registry, "kandu", now_ms=NOW)
    memory.put(rotated)
    memory.put(
        actions.update_partner(memory.registry, "kandu", session_timeout_s=60, now_ms=NOW + 1)
    )
    assert memory.registry.partner_for_key(memory.key, NOW + 1).session_timeout_s == 60


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "nothing to update"),
        ({"rate": 0}, "rate"),
        ({"session_timeout_s": 4000}, "session timeout"),
        ({"name": "  "}, "name"),
    ],
)
def test_bad_partner_updates_are_refused(memory, changes, message):
    with pytest.raises(RegistryError, match=message):
        actions.update_partner(memory.registry, "kandu", **changes)


@pytest.mark.parametrize(
    "action",
    [
        lambda r: actions.update_partner(r, "nope", rate=1),
        lambda r: actions.rotate_key(r, "nope"),
        lambda r: actions.revoke_partner(r, "nope"),
    ],
)
def test_an_unknown_partner_is_named_with_the_known_ones(memory, action):
    with pytest.raises(NotRegistered, match=r"'nope'.*kandu") as info:
        action(memory.registry)
    assert info.value.kind == "partner"


def test_adding_a_stream_again_with_the_same_settings_changes_nothing(memory):
    same = actions.add_stream(memory.registry, "carnival", title="嘉年华")
    assert same == memory.registry.streams["carnival"]
    with pytest.raises(AlreadyRegistered, match="update it"):
        actions.add_stream(memory.registry, "carnival", title="other")
    replaced = actions.add_stream(
        memory.registry, "carnival", title="other", tz="UTC", replace_existing=True
    )
    assert replaced == Stream("carnival", "other", "UTC")


def test_updating_a_stream_changes_only_what_is_given(memory):
    stream = actions.update_stream(memory.registry, "carnival", title=" 新标题 ")
    assert (stream.title, stream.tz) == ("新标题", "Asia/Shanghai")
    assert actions.update_stream(memory.registry, "carnival", tz="UTC").title == "嘉年华"
    with pytest.raises(RegistryError, match="time zone"):
        actions.update_stream(memory.registry, "carnival", tz="Mars/Olympus")
    with pytest.raises(RegistryError, match="nothing to update"):
        actions.update_stream(memory.registry, "carnival")
    with pytest.raises(NotRegistered, match="stream"):
        actions.update_stream(memory.registry, "nope", title="x")


def test_tokens_are_created_with_an_expiry_and_revoked():
    token, secret = actions.create_token("viewer", name=" wall ", expires="90s", now_ms=NOW)
    assert secret.startswith("ltt_") and token.token_hash == hash_secret(secret)
    assert (token.name, token.expires_at, token.created_at) == ("wall", NOW + 90_000, NOW)
    registry = Registry.of([token])
    assert registry.token_for(secret, NOW) == token
    assert actions.revoke_token(registry, token.id).revoked
    with pytest.raises(NotRegistered, match="token"):
        actions.revoke_token(registry, "nope")
    with pytest.raises(RegistryError, match="one of viewer, admin, public"):
        actions.create_token("root")
    with pytest.raises(RegistryError, match="90s, 30m"):
        actions.create_token("admin", expires="forever")


def test_the_partner_record_is_what_the_registry_holds():
    partner, _ = actions.add_partner(Registry(), "p", name="P", key="ltk_fixed")
    assert partner == Partner("p", "P", key_hash=hash_secret("ltk_fixed"))


def test_a_previous_key_leaves_the_record_once_its_grace_period_is_over(memory):
    rotated, key = actions.rotate_key(memory.registry, "kandu", grace_s=600, now_ms=NOW)
    memory.put(rotated)
    during = actions.update_partner(memory.registry, "kandu", rate=10, now_ms=NOW + 599_999)
    assert during.previous_key_hash == hash_secret(memory.key)  # still in its grace period
    after = actions.update_partner(memory.registry, "kandu", rate=10, now_ms=NOW + 600_000)
    assert (after.previous_key_hash, after.previous_key_expires_at) == ("", 0)
    assert after.key_hash == hash_secret(key)
    revoked = actions.revoke_partner(memory.registry, "kandu")
    assert revoked.revoked and (revoked.previous_key_hash, revoked.previous_key_expires_at) == (
        "",
        0,
    )


# --- programme segments --------------------------------------------------------------------

T0 = 1_734_778_800  # 2024-12-21T19:00:00+08:00
CARNIVAL = Registry.of([Stream("carnival", "嘉年华")])


def test_a_new_segment_gets_a_short_id_and_stripped_titles():
    segment = actions.add_segment(
        CARNIVAL, "carnival", start=T0, title=" 开幕式 ", title_en=" Opening "
    )
    assert len(segment.id) == 6 and segment.id.isalnum()
    assert (segment.stream, segment.start, segment.end) == ("carnival", T0, 0)
    assert (segment.title, segment.title_en) == ("开幕式", "Opening")


def test_a_segment_needs_a_registered_stream():
    with pytest.raises(NotRegistered, match="no stream with id 'nope' \\(known: carnival\\)"):
        actions.add_segment(CARNIVAL, "nope", start=T0, title="x")


def test_a_segment_id_in_use_is_refused_unless_replaced():
    first = actions.add_segment(CARNIVAL, "carnival", start=T0, title="开幕式", segment_id="a")
    registry = Registry.of([*CARNIVAL.streams.values(), first])
    with pytest.raises(AlreadyRegistered, match="already has a segment 'a'"):
        actions.add_segment(registry, "carnival", start=T0 + 60, title="x", segment_id="a")
    moved = actions.add_segment(
        registry, "carnival", start=T0 + 60, title="x", segment_id="a", replace_existing=True
    )
    assert moved.start == T0 + 60


def test_a_stream_holds_a_bounded_number_of_segments(monkeypatch):
    monkeypatch.setattr(actions, "MAX_SEGMENTS", 2)
    items = [
        *CARNIVAL.streams.values(),
        *(
            actions.add_segment(CARNIVAL, "carnival", start=T0 + i, title="x", segment_id=f"s{i}")
            for i in range(2)
        ),
    ]
    with pytest.raises(RegistryError, match="at most 2 segments"):
        actions.add_segment(Registry.of(items), "carnival", start=T0 + 9, title="x")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": "  "}, "title must not be empty"),
        ({"title": "x" * 101}, "at most 100 printable"),
        ({"title": "a\nb"}, "at most 100 printable"),
        ({"title": "x", "start": 0}, "between the years 2000 and 2099"),
        ({"title": "x", "end": T0}, "must end after it starts"),
        ({"title": "x", "segment_id": "Bad Id"}, "segment id 'Bad Id' must be"),
    ],
)
def test_a_bad_segment_is_refused_saying_why(fields, reason):
    args = {"start": T0, **fields}
    with pytest.raises(RegistryError, match=reason):
        actions.add_segment(CARNIVAL, "carnival", **args)


def test_removing_a_segment_names_its_record_key():
    segment = actions.add_segment(CARNIVAL, "carnival", start=T0, title="x", segment_id="a")
    registry = Registry.of([*CARNIVAL.streams.values(), segment])
    assert actions.remove_segment(registry, "carnival", "a") == "segment/carnival/a"
    with pytest.raises(NotRegistered, match="no segment with id 'b' \\(known: a\\)"):
        actions.remove_segment(registry, "carnival", "b")
