"""The worker's settings read from an environment: defaults, each variable, refusals."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from contract.kafka_auth import CREDENTIALS_FILE, SERVICES
from contract.settings import SettingsError
from stream.config import DEFAULT_MILESTONES, StreamConfig, parse_milestones


@pytest.fixture
def home(tmp_path) -> dict[str, str]:
    """An environment naming an empty home, so nothing is read from the working directory."""
    return {"LIVETALLY_HOME": str(tmp_path)}


def test_an_empty_environment_gives_the_documented_defaults(home, tmp_path):
    config = StreamConfig.from_env(home)
    for field in dataclasses.fields(StreamConfig):
        if field.name != "shared":
            assert getattr(config, field.name) == field.default, field.name
    assert config.shared.home == tmp_path.resolve()
    assert config.health_url == "http://127.0.0.1:6066/healthz"


@pytest.mark.parametrize(
    ("name", "value", "field", "expected"),
    [
        ("LIVETALLY_STREAM_APP_ID", "counting", "app_id", "counting"),
        ("LIVETALLY_WORKER_PORT", "7077", "web_port", 7077),
        ("LIVETALLY_FLUSH_INTERVAL_S", "0.5", "flush_interval_s", 0.5),
        ("LIVETALLY_FLUSH_MAX_INTERVAL_S", "5", "flush_max_interval_s", 5.0),
        ("LIVETALLY_SESSION_TIMEOUT_S", "7.5", "session_timeout_s", 7.5),
        ("LIVETALLY_CHECKPOINT_INTERVAL_S", "2.5", "checkpoint_interval_s", 2.5),
        ("LIVETALLY_CHECKPOINT_MIN_RECORDS", "1", "checkpoint_min_records", 1),
        ("LIVETALLY_CHECKPOINT_CHUNK_BYTES", "1024", "checkpoint_chunk_bytes", 1024),
        ("LIVETALLY_CHECKPOINT_CHUNK_BYTES", "15728640", "checkpoint_chunk_bytes", 15 << 20),
        ("LIVETALLY_MMAP_THRESHOLD_BYTES", "0", "mmap_threshold_bytes", 0),
        ("LIVETALLY_MMAP_THRESHOLD_BYTES", "33554432", "mmap_threshold_bytes", 32 << 20),
        (
            "LIVETALLY_ALERT_WEBHOOK",
            " http://127.0.0.1:9/hook ",
            "alert_webhook",
            "http://127.0.0.1:9/hook",
        ),
        ("LIVETALLY_ALERT_WEBHOOK", "  ", "alert_webhook", None),
        (
            "LIVETALLY_ALERT_WECOM_WEBHOOK",
            "https://wx/send?key=k",
            "alert_wecom_webhook",
            "https://wx/send?key=k",
        ),
        (
            "LIVETALLY_ALERT_DINGTALK_WEBHOOK",
            "https://ding/x",
            "alert_dingtalk_webhook",
            "https://ding/x",
        ),
        (
            "LIVETALLY_ALERT_FEISHU_WEBHOOK",
            "https://lark/y",
            "alert_feishu_webhook",
            "https://lark/y",
        ),
        ("LIVETALLY_ALERT_LANG", " EN ", "alert_lang", "en"),
        ("LIVETALLY_ALERT_LANG", "", "alert_lang", "zh"),
        (
            "LIVETALLY_DASHBOARD_URL",
            "https://tally.example",
            "dashboard_url",
            "https://tally.example",
        ),
        ("LIVETALLY_MILESTONES", "every:10, 5", "milestones", "every:10, 5"),
        ("LIVETALLY_MILESTONES", " ", "milestones", DEFAULT_MILESTONES),
    ],
)
def test_each_variable_sets_its_field(home, name, value, field, expected):
    assert getattr(StreamConfig.from_env({**home, name: value}), field) == expected


def test_the_port_moves_the_health_page(home):
    config = StreamConfig.from_env({**home, "LIVETALLY_WORKER_PORT": "7077"})
    assert config.health_url == "http://127.0.0.1:7077/healthz"


@pytest.mark.parametrize(("flush", "flush_max"), [("0.5", 2.0), ("2", 2.0), ("3600", 3600.0)])
def test_the_longest_flush_interval_is_2_s_or_the_flush_interval_if_longer(home, flush, flush_max):
    config = StreamConfig.from_env({**home, "LIVETALLY_FLUSH_INTERVAL_S": flush})
    assert config.flush_max_interval_s == flush_max


def test_the_shared_settings_are_the_workers(home, tmp_path):
    path = tmp_path / CREDENTIALS_FILE
    path.parent.mkdir(parents=True)
    users = {s: {"username": f"livetally-{s}", "password": f"pw-{s}"} for s in SERVICES}
    doc = {"protocol": "SASL_SSL", "mechanism": "SCRAM-SHA-512", "ca_file": "ca.pem"}
    path.write_bytes(orjson.dumps({**doc, "users": users}))
    config = StreamConfig.from_env({**home, "LIVETALLY_PARTITIONS": "8"})
    assert config.shared.kafka.security.username == "livetally-worker"
    assert config.shared.kafka.partitions == 8


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIVETALLY_WORKER_PORT", "web"),
        *[("LIVETALLY_FLUSH_INTERVAL_S", v) for v in ("soon", "0", "-1", "nan", "inf", "-inf")],
        ("LIVETALLY_FLUSH_MAX_INTERVAL_S", "0"),
        ("LIVETALLY_FLUSH_MAX_INTERVAL_S", "0.1"),  # shorter than the flush interval
        ("LIVETALLY_SESSION_TIMEOUT_S", "0"),
        ("LIVETALLY_CHECKPOINT_INTERVAL_S", "soon"),
        ("LIVETALLY_CHECKPOINT_INTERVAL_S", "-1"),
        ("LIVETALLY_CHECKPOINT_MIN_RECORDS", "many"),
        ("LIVETALLY_CHECKPOINT_CHUNK_BYTES", "1023"),
        ("LIVETALLY_CHECKPOINT_CHUNK_BYTES", "15728641"),
        ("LIVETALLY_CHECKPOINT_CHUNK_BYTES", "big"),
        ("LIVETALLY_MMAP_THRESHOLD_BYTES", "-1"),
        ("LIVETALLY_MMAP_THRESHOLD_BYTES", "33554433"),
        *[("LIVETALLY_MILESTONES", v) for v in ("lots", "every:x", "-5", "0")],
        ("LIVETALLY_ALERT_LANG", "fr"),
        ("LIVETALLY_ALERT_WECOM_WEBHOOK", "qyapi.weixin.qq.com/cgi-bin/webhook/send"),
        ("LIVETALLY_DASHBOARD_URL", "ftp://tally"),
        ("LIVETALLY_ALERT_DINGTALK_SECRET", "SEC123"),  # without its webhook
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(home, name, value):
    with pytest.raises(ValueError, match=name):
        StreamConfig.from_env({**home, name: value})


@pytest.mark.parametrize(
    ("secret", "url", "field"),
    [
        ("LIVETALLY_ALERT_WEBHOOK_SECRET", "LIVETALLY_ALERT_WEBHOOK", "alert_webhook_secret"),
        (
            "LIVETALLY_ALERT_DINGTALK_SECRET",
            "LIVETALLY_ALERT_DINGTALK_WEBHOOK",
            "alert_dingtalk_secret",
        ),
        ("LIVETALLY_ALERT_FEISHU_SECRET", "LIVETALLY_ALERT_FEISHU_WEBHOOK", "alert_feishu_secret"),
    ],
)
def test_a_signing_secret_goes_with_its_webhook_and_stays_out_of_the_repr(home, secret, url, field):
    config = StreamConfig.from_env({**home, url: "https://hook.example/k3y", secret: "s3cret"})
    assert getattr(config, field) == "s3cret"
    assert "s3cret" not in repr(config) and "k3y" not in repr(config)
    with pytest.raises(SettingsError, match=f"{secret} is set but {url} is not"):
        StreamConfig.from_env({**home, secret: "s3cret"})


def test_a_flush_max_shorter_than_the_flush_interval_names_both(home):
    env = {**home, "LIVETALLY_FLUSH_INTERVAL_S": "3", "LIVETALLY_FLUSH_MAX_INTERVAL_S": "1"}
    names = r"LIVETALLY_FLUSH_MAX_INTERVAL_S \(1 s\) .* LIVETALLY_FLUSH_INTERVAL_S \(3 s\)"
    with pytest.raises(ValueError, match=names):
        StreamConfig.from_env(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIVETALLY_CHECKPOINT_CHUNK_BYTES", "10"),
        ("LIVETALLY_FLUSH_MAX_INTERVAL_S", "0.1"),
        ("LIVETALLY_MILESTONES", "lots"),
    ],
)
def test_every_refusal_is_a_settings_error(home, name, value):
    with pytest.raises(ValueError) as refused:
        StreamConfig.from_env({**home, name: value})
    assert isinstance(refused.value, SettingsError)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("every:100000,1000000", (100_000, (1_000_000,))),
        ("500, 50", (0, (50, 500))),
        ("every:1_000", (1_000, ())),
        ("5,5,,every:7", (7, (5,))),
        ("", (0, ())),
    ],
)
def test_parse_milestones(text, parsed):
    assert parse_milestones(text) == parsed
