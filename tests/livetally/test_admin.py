"""Registration commands: pure item building, and the real registry topic (integration)."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid

import pytest

from contract.registry import RegistryError, hash_secret
from contract.settings import Settings
from livetally import admin
from livetally.cli import build_parser
from livetally.exceptions import LivetallyError

# --- pure --------------------------------------------------------------------------------


def test_build_partner_stores_only_the_hash_of_the_key():
    partner = admin.build_partner(
        "scnews", name=" 四川新闻网 ", key="ltk_secret", name_en="Sichuan News Network", rate=7
    )
    assert partner.key_hash == hash_secret("ltk_secret")
    assert "ltk_secret" not in repr(partner)
    assert partner.name == "四川新闻网"
    assert (partner.mode, partner.rate, partner.revoked) == ("sessions", 7, False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"partner_id": "Bad Id", "name": "x"}, "partner id"),
        ({"partner_id": "ok", "name": "  "}, "non-empty --name"),
        ({"partner_id": "ok", "name": "x", "session_timeout_s": 0}, "session timeout"),
        ({"partner_id": "ok", "name": "x", "rate": 0}, "rate"),
        ({"partner_id": "ok", "name": "x", "mode": "both"}, "mode"),
    ],
)
def test_build_partner_refuses_bad_settings_with_a_clear_message(kwargs, message):
    kwargs = dict(kwargs)
    partner_id = kwargs.pop("partner_id")
    with pytest.raises(admin.InvalidRegistration, match=message) as info:
        admin.build_partner(partner_id, key="k", **kwargs)
    assert isinstance(info.value, LivetallyError)
    assert not isinstance(info.value, RegistryError)


def test_build_stream_checks_time_zone_and_title():
    stream = admin.build_stream("carnival-2024", "嘉年华", "Asia/Shanghai")
    assert (stream.id, stream.title, stream.tz) == ("carnival-2024", "嘉年华", "Asia/Shanghai")
    with pytest.raises(admin.InvalidRegistration, match="time zone"):
        admin.build_stream("x", "t", "Mars/Olympus")
    with pytest.raises(admin.InvalidRegistration, match="title"):
        admin.build_stream("x", " ", "UTC")


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_build_token_keeps_role_and_hash(role):
    token = admin.build_token(role, secret="ltt_s", token_id="abcd", name="ops")
    assert (token.id, token.role, token.name) == ("abcd", role, "ops")
    assert token.token_hash == hash_secret("ltt_s")


def test_build_token_refuses_unknown_role():
    with pytest.raises(admin.InvalidRegistration, match="one of viewer, admin, public"):
        admin.build_token("root", secret="s", token_id="x")


def test_revoked_partner_marks_only_revoked():
    from contract.registry import Registry

    partner = admin.build_partner("kandu", name="看度", key="k", rate=99)
    revoked = admin.revoked_partner(Registry.of([partner]), "kandu")
    assert revoked.revoked
    assert dataclasses.replace(revoked, revoked=False) == partner


def test_revoking_an_unknown_partner_names_the_known_ones():
    from contract.registry import Registry

    registry = Registry.of([admin.build_partner("kandu", name="看度", key="k")])
    with pytest.raises(admin.UnknownPartner, match=r"'nope'.*kandu"):
        admin.revoked_partner(registry, "nope")


# --- the commands on an in-memory registry ------------------------------------------------


class MemoryRegistry:
    """Stands in for the registry topic: the records written, in order."""

    def __init__(self, *items) -> None:
        self.items = list(items)

    def load(self):
        from tests.registry_log import registry_of

        return registry_of(self.items)

    def put(self, item) -> None:
        self.items.append(item)

    def delete(self, key: str) -> None:
        self.items.append(key)


@pytest.fixture
def memory():
    return MemoryRegistry()


def _cli(memory, capsys, *argv):
    assert admin.run(build_parser().parse_args(list(argv)), Settings(), memory) == 0
    return capsys.readouterr().out.splitlines()


def test_partner_add_refuses_a_registered_id_and_keeps_its_key(memory, capsys):
    key = _cli(memory, capsys, "partner", "add", "kandu", "--name", "看度")[-1]
    written = len(memory.items)
    with pytest.raises(admin.AlreadyExists, match=r"kandu.*rotate-key.*--replace"):
        _cli(memory, capsys, "partner", "add", "kandu", "--name", "看度2")
    assert len(memory.items) == written
    assert memory.load().partner_for_key(key).name == "看度"


def test_partner_add_replace_ends_the_old_key(memory, capsys):
    key = _cli(memory, capsys, "partner", "add", "kandu", "--name", "看度")[-1]
    out = _cli(memory, capsys, "partner", "add", "kandu", "--name", "看度", "--replace")
    assert out[0].startswith("replaced partner kandu")
    assert "old key no longer works" in out[1]
    registry = memory.load()
    assert registry.partner_for_key(key) is None
    assert registry.partner_for_key(out[-1]).id == "kandu"


def test_rotate_key_prints_a_new_key_and_keeps_the_old_one_for_the_grace(memory, capsys):
    old = _cli(memory, capsys, "partner", "add", "kandu", "--name", "看度")[-1]
    out = _cli(memory, capsys, "partner", "rotate-key", "kandu")
    new = out[-1]
    assert new.startswith("ltk_") and new != old
    assert "old key keeps working until" in out[0] and "(10m)" in out[0]
    registry = memory.load()
    now = int(time.time() * 1000)
    assert registry.partner_for_key(old, now).id == "kandu"
    assert registry.partner_for_key(old, now + 601_000) is None
    assert registry.partner_for_key(new, now + 601_000).id == "kandu"


def test_rotate_key_with_no_grace_ends_the_old_key(memory, capsys):
    old = _cli(memory, capsys, "partner", "add", "kandu", "--name", "看度")[-1]
    out = _cli(memory, capsys, "partner", "rotate-key", "kandu", "--grace", "0")
    assert "no longer works" in out[0]
    assert memory.load().partner_for_key(old) is None


@pytest.mark.parametrize(("text", "seconds"), [("0", 0), ("0s", 0), ("90s", 90), ("1h", 3600)])
def test_grace_durations(text, seconds):
    assert admin.parse_grace(text) == seconds


def test_a_bad_grace_is_a_usage_error(memory, capsys):
    _cli(memory, capsys, "partner", "add", "kandu", "--name", "看度")
    with pytest.raises(admin.InvalidRegistration, match="--grace") as info:
        _cli(memory, capsys, "partner", "rotate-key", "kandu", "--grace", "soon")
    assert info.value.exit_code == 2


def test_a_revoked_partner_gets_no_new_key_and_the_cli_exits_1(memory, capsys):
    _cli(memory, capsys, "partner", "add", "kandu", "--name", "看度")
    _cli(memory, capsys, "partner", "revoke", "kandu")
    with pytest.raises(admin.AlreadyExists, match="revoked") as info:
        _cli(memory, capsys, "partner", "rotate-key", "kandu")
    assert getattr(info.value, "exit_code", 1) == 1


def test_partner_update_keeps_the_key(memory, capsys):
    key = _cli(memory, capsys, "partner", "add", "kandu", "--name", "看度")[-1]
    out = _cli(memory, capsys, "partner", "update", "kandu", "--rate", "80", "--name-en", "Kandu")
    assert "rate 80 events/s" in out[0] and "key is unchanged" in out[0]
    partner = memory.load().partner_for_key(key)
    assert (partner.rate, partner.name_en, partner.session_timeout_s) == (80, "Kandu", 30)
    with pytest.raises(admin.InvalidRegistration, match="nothing to update"):
        _cli(memory, capsys, "partner", "update", "kandu")
    with pytest.raises(admin.UnknownPartner, match="nope"):
        _cli(memory, capsys, "partner", "update", "nope", "--rate", "1")


def test_stream_add_update_and_list(memory, capsys):
    assert _cli(memory, capsys, "stream", "add", "c1", "--title", "嘉年华")[0] == (
        "registered stream c1: 嘉年华 (Asia/Shanghai)"
    )
    again = _cli(memory, capsys, "stream", "add", "c1", "--title", "嘉年华")
    assert "already registered" in again[0] and len(memory.items) == 1
    with pytest.raises(admin.AlreadyExists, match="stream update c1"):
        _cli(memory, capsys, "stream", "add", "c1", "--title", "other")
    out = _cli(memory, capsys, "stream", "update", "c1", "--title", "新", "--tz", "UTC")
    assert out == ["updated stream c1: 新 (UTC)"]
    listing = _cli(memory, capsys, "stream", "list")
    assert listing[0].split() == ["id", "title", "tz"]
    assert listing[1].split() == ["c1", "新", "UTC"]
    with pytest.raises(admin.UnknownItem, match="stream"):
        _cli(memory, capsys, "stream", "update", "nope", "--title", "x")


def test_partner_and_token_lists_print_their_tables_without_secrets(memory, capsys):
    assert _cli(memory, capsys, "partner", "list") == ["no partners registered"]
    key = _cli(memory, capsys, "partner", "add", "kandu", "--name", "看度")[-1]
    listing = _cli(memory, capsys, "partner", "list")
    assert listing[1].split() == ["kandu", "看度", "-", "sessions", "30s", "5000/s", "any", "no"]
    assert key not in "\n".join(listing)
    secret = _cli(memory, capsys, "token", "create", "--role", "admin", "--name", "ops")[-1]
    tokens = _cli(memory, capsys, "token", "list")
    assert tokens[0].split() == ["id", "role", "name", "state", "created", "expires"]
    assert tokens[1].split()[1:4] == ["admin", "ops", "active"]
    assert secret not in "\n".join(tokens)


def test_token_revoke_of_an_unknown_id_names_the_known_ones(memory, capsys):
    out = _cli(memory, capsys, "token", "create", "--role", "viewer")
    token_id = out[0].split()[3]
    with pytest.raises(admin.UnknownItem, match=token_id):
        _cli(memory, capsys, "token", "revoke", "nope")
    with pytest.raises(admin.InvalidRegistration, match="--expires"):
        _cli(memory, capsys, "token", "create", "--role", "viewer", "--expires", "soon")


def test_the_cli_defaults_are_the_registrys():
    args = build_parser().parse_args(["partner", "add", "p", "--name", "P"])
    assert (args.session_timeout, args.rate, args.replace) == (30, 5000, False)
    assert build_parser().parse_args(["stream", "add", "s", "--title", "t"]).tz == "Asia/Shanghai"
    assert build_parser().parse_args(["partner", "rotate-key", "p"]).grace == "10m"


# --- integration: the real registry topic -------------------------------------------------


@pytest.fixture
def settings(tmp_path, broker):
    """The session's real broker, with fresh topics for this test."""
    base = broker.settings
    kafka = dataclasses.replace(base.kafka, topic_prefix=f"test-admin-{uuid.uuid4().hex[:8]}.")
    return Settings(home=tmp_path, kafka=kafka)


def _run(settings, capsys, *argv):
    assert admin.run(build_parser().parse_args(list(argv)), settings) == 0
    return capsys.readouterr().out.splitlines()


@pytest.mark.integration
def test_partner_add_stores_hash_not_key_and_readd_needs_replace(settings, capsys):
    from contract.registry_store import RegistryStore

    out = _run(settings, capsys, "partner", "add", "kandu", "--name", "看度", "--rate", "900")
    key = out[-1]
    assert key.startswith("ltk_")
    assert out[0].startswith("registered partner kandu")
    registry = RegistryStore(settings.kafka).load()
    partner = registry.partners["kandu"]
    assert partner.key_hash == hash_secret(key)
    assert partner.rate == 900
    assert key not in repr(registry)
    assert registry.partner_for_key(key) == partner

    with pytest.raises(admin.AlreadyExists):
        _run(settings, capsys, "partner", "add", "kandu", "--name", "看度", "--mode", "reports")
    assert RegistryStore(settings.kafka).load().partner_for_key(key) == partner

    out = _run(
        settings,
        capsys,
        "partner",
        "add",
        "kandu",
        "--name",
        "看度",
        "--mode",
        "reports",
        "--replace",
    )
    new_key = out[-1]
    assert "replaced" in "\n".join(out[:-1])
    registry = RegistryStore(settings.kafka).load()
    assert registry.partner_for_key(key) is None
    assert registry.partner_for_key(new_key).mode == "reports"

    rotated = _run(settings, capsys, "partner", "rotate-key", "kandu")[-1]
    registry = RegistryStore(settings.kafka).load()
    assert registry.partner_for_key(new_key).id == "kandu"  # in its grace period
    assert registry.partner_for_key(rotated).id == "kandu"

    listing = _run(settings, capsys, "partner", "list")
    assert any(line.startswith("kandu") and "reports" in line for line in listing)
    assert new_key not in "\n".join(listing)


@pytest.mark.integration
def test_partner_revoke_disables_the_key(settings, capsys):
    from contract.registry_store import RegistryStore

    key = _run(settings, capsys, "partner", "add", "dayang", "--name", "大洋网")[-1]
    out = _run(settings, capsys, "partner", "revoke", "dayang")
    assert "revoked" in out[0]
    registry = RegistryStore(settings.kafka).load()
    assert registry.partners["dayang"].revoked
    assert registry.partner_for_key(key) is None
    with pytest.raises(admin.UnknownPartner, match="nope"):
        admin.run(build_parser().parse_args(["partner", "revoke", "nope"]), settings)


@pytest.mark.integration
def test_token_create_and_stream_add(settings, capsys):
    from contract.registry_store import RegistryStore

    token = _run(settings, capsys, "token", "create", "--role", "viewer", "--name", "wall")[-1]
    assert token.startswith("ltt_")
    _run(settings, capsys, "stream", "add", "carnival-2024", "--title", "嘉年华")
    registry = RegistryStore(settings.kafka).load()
    now = int(time.time() * 1000)
    made = registry.token_for(token, now)
    assert made is not None and made.role == "viewer" and made.expires_at == 0
    assert [t.name for t in registry.tokens.values()] == ["wall"]
    assert registry.streams["carnival-2024"].tz == "Asia/Shanghai"
    brief = _run(settings, capsys, "token", "create", "--role", "admin", "--expires", "90s")
    assert "expires" in brief[0]
    listing = _run(settings, capsys, "token", "list")
    assert listing[0].split() == ["id", "role", "name", "state", "created", "expires"]
    assert len(listing) == 3 and all(" active " in line for line in listing[1:])
    brief_id = brief[0].split()[3].rstrip(",")
    _run(settings, capsys, "token", "revoke", brief_id)
    registry = RegistryStore(settings.kafka).load()
    assert registry.tokens[brief_id].revoked
    assert registry.token_for(brief[-1], now) is None
    assert registry.token_for(token, now) is not None
    listing = _run(settings, capsys, "stream", "list")
    assert listing[1].split()[0] == "carnival-2024"


# --- segments -----------------------------------------------------------------------------


def _carnival(memory, capsys):
    _cli(memory, capsys, "stream", "add", "carnival", "--title", "嘉年华")


def _segment(memory, capsys, start, title, *options, stream="carnival"):
    """``livetally segment add STREAM --start 2024-12-21T<start> --title <title> ...``."""
    argv = ["segment", "add", stream, "--start", f"2024-12-21T{start}", "--title", title]
    return _cli(memory, capsys, *argv, *options)


def test_segment_add_reads_local_times_in_the_streams_zone(memory, capsys):
    _carnival(memory, capsys)
    out = _segment(memory, capsys, "19:00", "开幕式", "--title-en", "Opening", "--id", "opening")
    assert out == ["added segment opening of carnival: 开幕式, 2024-12-21 11:00:00Z"]
    (segment,) = memory.load().programme("carnival")
    assert segment.start == 1734778800  # 19:00 in Asia/Shanghai
    assert (segment.title, segment.title_en, segment.end) == ("开幕式", "Opening", 0)


def test_segment_list_shows_each_end_as_the_next_start(memory, capsys):
    _carnival(memory, capsys)
    _segment(memory, capsys, "19:30", "街舞")
    _segment(memory, capsys, "19:00", "开幕式")
    out = _cli(memory, capsys, "segment", "list", "carnival")
    assert "start (Asia/Shanghai)" in out[0]
    rows = [re.split(r"\s{2,}", line.strip()) for line in out[1:]]
    assert [row[1:] for row in rows] == [
        ["2024-12-21 19:00:00", "2024-12-21 19:30:00", "开幕式", "-"],
        ["2024-12-21 19:30:00", "-", "街舞", "-"],
    ]


def test_segment_remove_deletes_its_record(memory, capsys):
    _carnival(memory, capsys)
    _segment(memory, capsys, "19:00", "开幕式", "--id", "opening")
    assert _cli(memory, capsys, "segment", "remove", "carnival", "opening") == [
        "removed segment opening of carnival"
    ]
    assert memory.items[-1] == "segment/carnival/opening"
    assert memory.load().programme("carnival") == ()
    with pytest.raises(admin.UnknownItem, match="no segment with id 'opening'"):
        _cli(memory, capsys, "segment", "remove", "carnival", "opening")


def test_segment_add_refuses_overlaps_bad_times_and_unknown_streams(memory, capsys):
    _carnival(memory, capsys)
    _segment(memory, capsys, "19:00", "开幕式", "--end", "2024-12-21T19:40", "--id", "opening")
    written = len(memory.items)
    with pytest.raises(admin.AlreadyExists, match="must not overlap"):
        _segment(memory, capsys, "19:30", "街舞")
    with pytest.raises(admin.InvalidRegistration, match="--start must be RFC 3339"):
        _cli(memory, capsys, "segment", "add", "carnival", "--start", "7pm", "--title", "x")
    with pytest.raises(admin.UnknownItem, match="no stream with id 'nope'"):
        _segment(memory, capsys, "19:00", "x", stream="nope")
    with pytest.raises(admin.AlreadyExists, match="--replace"):
        _segment(memory, capsys, "18:00", "x", "--id", "opening")
    assert len(memory.items) == written


def test_segment_add_replace_changes_it_in_place(memory, capsys):
    _carnival(memory, capsys)
    _segment(memory, capsys, "19:00", "开幕式", "--end", "2024-12-21T19:40", "--id", "opening")
    out = _segment(
        memory,
        capsys,
        "19:05",
        "开幕式",
        "--end",
        "2024-12-21T19:45",
        "--id",
        "opening",
        "--replace",
    )
    assert out[0].startswith("replaced segment opening")
    (segment,) = memory.load().programme("carnival")
    assert segment.start == 1734779100


def test_a_public_token_is_for_one_registered_stream(memory, capsys):
    _carnival(memory, capsys)
    out = _cli(
        memory,
        capsys,
        "token",
        "create",
        "--role",
        "public",
        "--stream",
        "carnival",
        "--name",
        "四川新闻网",
    )
    assert out[0].startswith("created public token ") and "for stream carnival" in out[0]
    registry = memory.load()
    (token,) = registry.tokens.values()
    assert (token.role, token.streams) == ("public", ("carnival",))
    assert registry.token_for(out[-1], token.created_at) == token
    listed = _cli(memory, capsys, "token", "list")
    assert "public (carnival)" in listed[1]
    with pytest.raises(admin.InvalidRegistration, match="exactly one --stream"):
        _cli(memory, capsys, "token", "create", "--role", "public")
    with pytest.raises(admin.InvalidRegistration, match="cannot be limited"):
        _cli(memory, capsys, "token", "create", "--role", "admin", "--stream", "carnival")
    with pytest.raises(admin.UnknownItem, match="no stream with id 'nope'"):
        _cli(memory, capsys, "token", "create", "--role", "public", "--stream", "nope")


def test_viewer_and_partner_tokens_limited_to_streams_and_to_a_partner(memory, capsys):
    _carnival(memory, capsys)
    _cli(memory, capsys, "stream", "add", "gala", "--title", "晚会")
    _cli(memory, capsys, "partner", "add", "kandu", "--name", "看度")
    argv = ["token", "create", "--role", "viewer", "--stream", "carnival", "--stream", "gala"]
    out = _cli(memory, capsys, *argv, "--name", "编辑部")
    assert "for stream carnival, gala" in out[0]
    out = _cli(memory, capsys, "token", "create", "--role", "partner", "--partner", "kandu")
    assert out[0].startswith("created partner token ") and "for partner kandu" in out[0]
    registry = memory.load()
    viewer, partner = sorted(registry.tokens.values(), key=lambda t: t.role, reverse=True)
    assert (viewer.role, viewer.streams, viewer.partner) == ("viewer", ("carnival", "gala"), "")
    assert (partner.role, partner.streams, partner.partner) == ("partner", (), "kandu")
    # Limited tokens keep their hash where an earlier release, which would read them as
    # unlimited viewers, never looks.
    assert viewer.scoped_hash and partner.scoped_hash
    assert not (viewer.token_hash or partner.token_hash)
    assert registry.token_for(out[-1], partner.created_at) == partner
    listed = "\n".join(_cli(memory, capsys, "token", "list"))
    assert "viewer (carnival, gala)" in listed and "partner kandu" in listed
    with pytest.raises(admin.InvalidRegistration, match="needs --partner"):
        _cli(memory, capsys, "token", "create", "--role", "partner")
    with pytest.raises(admin.InvalidRegistration, match="only a partner token"):
        _cli(memory, capsys, "token", "create", "--role", "viewer", "--partner", "kandu")
    with pytest.raises(admin.UnknownPartner, match="no partner with id 'nope'"):
        _cli(memory, capsys, "token", "create", "--role", "partner", "--partner", "nope")


def test_a_partner_limited_to_streams_and_the_limit_lifted(memory, capsys):
    _carnival(memory, capsys)
    _cli(memory, capsys, "stream", "add", "encore", "--title", "返场")
    out = _cli(
        memory,
        capsys,
        "partner",
        "add",
        "kandu",
        "--name",
        "看度",
        "--streams",
        "carnival, encore,carnival",
    )
    assert "streams carnival, encore only" in out[0]
    assert memory.load().partners["kandu"].streams == ("carnival", "encore")
    _cli(memory, capsys, "partner", "update", "kandu", "--streams", "encore")
    assert memory.load().partners["kandu"].streams == ("encore",)
    _cli(memory, capsys, "partner", "update", "kandu", "--streams", "all")
    assert memory.load().partners["kandu"].streams == ()
    with pytest.raises(admin.UnknownItem, match="no stream with id 'nope'"):
        _cli(memory, capsys, "partner", "update", "kandu", "--streams", "nope")


def test_a_bad_expiry_names_the_option(memory, capsys):
    with pytest.raises(admin.InvalidRegistration, match=r"^--expires: .*90s, 30m"):
        _cli(memory, capsys, "token", "create", "--role", "viewer", "--expires", "forever")
    assert memory.items == []
