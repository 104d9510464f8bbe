"""Registration commands: pure item building, and the real registry topic (integration)."""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest

from contract.registry import RegistryError, hash_secret
from contract.settings import KafkaSettings, Settings
from livetally import admin
from livetally.cli import build_parser
from livetally.exceptions import KafkaUnavailable, LivetallyError
from tests.ports import free_port

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
    with pytest.raises(admin.InvalidRegistration, match="viewer or admin"):
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


def test_partner_table_shows_settings_never_keys():
    partners = [
        admin.build_partner("xiamen", name="厦门网", key="k1", mode="reports"),
        admin.build_partner("aikan", name="爱看头条", key="k2", name_en="Aikan Toutiao"),
    ]
    table = admin.format_partners(partners).splitlines()
    assert table[0].split() == ["id", "name", "name_en", "mode", "timeout", "rate", "revoked"]
    assert table[1].startswith("aikan")  # sorted by id
    assert "reports" in table[2]
    for partner in partners:
        assert partner.key_hash not in "\n".join(table)

    # CJK names take two columns each: the mode column starts at the same screen column.
    def screen_col(line: str, word: str) -> int:
        return admin._width(line[: line.index(word)])

    assert screen_col(table[1], "sessions") == screen_col(table[2], "reports")


def test_empty_tables_say_so():
    assert admin.format_partners([]) == "no partners registered"
    assert admin.format_streams([]) == "no streams registered"


def test_unreachable_kafka_is_a_clear_error_quickly():
    port = free_port()
    settings = Settings(kafka=KafkaSettings(bootstrap=f"127.0.0.1:{port}", port=port))
    args = build_parser().parse_args(["partner", "list"])
    with pytest.raises(KafkaUnavailable, match=rf"127.0.0.1:{port}.*livetally up"):
        admin.run(args, settings)


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
def test_partner_add_stores_hash_not_key_and_readd_replaces_it(settings, capsys):
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

    out = _run(settings, capsys, "partner", "add", "kandu", "--name", "看度", "--mode", "reports")
    new_key = out[-1]
    assert "replaced" in "\n".join(out[:-1])
    registry = RegistryStore(settings.kafka).load()
    assert registry.partner_for_key(key) is None
    assert registry.partner_for_key(new_key).mode == "reports"

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
