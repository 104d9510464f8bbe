"""Why Kafka refused a process, in one line: login, permission and TLS errors of both
client libraries; and the start-up login check, driven by a stand-in connection."""

from __future__ import annotations

import ssl

import aiokafka.errors as aio
import kafka.errors as kp
import pytest

from contract import kafka_login
from contract.kafka_auth import KafkaSecurity, SettingsError
from contract.kafka_login import KafkaLoginError, check_login, explain, name_of
from contract.settings import KafkaSettings

SASL = KafkaSecurity(
    "SASL_SSL", "SCRAM-SHA-512", "livetally-ingest", "s3cret", source="environment"
)
FILE = KafkaSecurity(
    "SASL_SSL", "SCRAM-SHA-512", "livetally-worker", "s3cret", source="/h/kafka/credentials.json"
)
TLS = KafkaSecurity("SSL", source="environment")


def at(security: KafkaSecurity) -> KafkaSettings:
    return KafkaSettings(bootstrap="k1:9093,k2:9093", security=security)


@pytest.mark.parametrize(
    "exc",
    [
        kp.SaslAuthenticationFailedError("bad"),
        aio.SaslAuthenticationFailed("bad"),
        aio.AuthenticationFailedError("bad"),
    ],
)
@pytest.mark.parametrize(
    ("security", "check"),
    [
        (
            SASL,
            "LIVETALLY_KAFKA_USERNAME and LIVETALLY_KAFKA_PASSWORD "
            "(or LIVETALLY_KAFKA_PASSWORD_FILE)",
        ),
        (FILE, "the credentials in /h/kafka/credentials.json"),
        (TLS, "LIVETALLY_KAFKA_SECURITY_PROTOCOL"),
        (KafkaSecurity(), "LIVETALLY_KAFKA_SECURITY_PROTOCOL"),
    ],
)
def test_a_refused_login_says_who_logged_in_and_which_settings_to_check(exc, security, check):
    reason = explain(exc, at(security))
    assert reason == (
        f"Kafka at k1:9093,k2:9093: authentication failed for {security.describe()}; check {check}"
    )
    assert "s3cret" not in reason


@pytest.mark.parametrize(
    "exc",
    [
        kp.TopicAuthorizationFailedError("livetally.registry"),
        kp.GroupAuthorizationFailedError("livetally-worker"),
        kp.ClusterAuthorizationFailedError(),
        aio.TopicAuthorizationFailedError("livetally.registry"),
        aio.DelegationTokenAuthorizationFailed(),
    ],
)
@pytest.mark.parametrize(("security", "who"), [(SASL, "'livetally-ingest'"), (TLS, "this client")])
def test_a_refused_permission_names_the_user_the_error_and_the_acl_to_add(exc, security, who):
    reason = explain(exc, at(security))
    assert reason == (
        f"Kafka at k1:9093,k2:9093: {who} is not allowed to do this "
        f"({type(exc).__name__}: {exc}); the Kafka user needs an ACL for it (see docs/deploy.md)"
    )


@pytest.mark.parametrize(
    "exc",
    [
        ssl.SSLCertVerificationError(1, "self-signed certificate in certificate chain"),
        kp.KafkaConnectionError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
        OSError("CERTIFICATE_VERIFY_FAILED"),
    ],
)
def test_an_untrusted_broker_certificate_points_at_the_ca_setting(exc):
    reason = explain(exc, at(TLS))
    assert reason == (
        f"Kafka at k1:9093,k2:9093: the broker's TLS certificate is not trusted ({exc}); set "
        "LIVETALLY_KAFKA_CA_FILE to the CA that signed it"
    )


@pytest.mark.parametrize(
    "exc",
    [
        kp.KafkaConnectionError("refused"),
        kp.KafkaTimeoutError(),
        kp.BrokerNotAvailableError(),
        aio.KafkaConnectionError("refused"),
        ConnectionRefusedError(111, "Connection refused"),
        ssl.SSLError("wrong version number"),
        ValueError("authentication failed"),
    ],
)
def test_errors_that_are_not_about_login_or_permission_have_no_explanation(exc):
    assert explain(exc, at(SASL)) is None


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (TimeoutError(), "TimeoutError"),
        (ValueError("bad port"), "ValueError: bad port"),
        (ConnectionRefusedError(111, "refused"), "ConnectionRefusedError: [Errno 111] refused"),
    ],
)
def test_name_of_is_the_type_and_any_message(exc, text):
    assert name_of(exc) == text


def test_a_login_error_is_a_settings_error():
    assert issubclass(KafkaLoginError, SettingsError)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(kafka_login, "time", fake)
    return fake


def connections(monkeypatch, outcomes: dict[str, list[BaseException | None]]) -> list[str]:
    """Stand in for the login of each ``host:port``: each call takes the next outcome."""
    tried: list[str] = []

    async def log_in(host, port, kafka, timeout_s):
        tried.append(f"{host}:{port}")
        outcome = outcomes[f"{host}:{port}"].pop(0)
        if outcome is not None:
            raise outcome

    monkeypatch.setattr(kafka_login, "_log_in", log_in)
    return tried


def test_a_login_accepted_by_the_first_server_is_enough(monkeypatch, clock):
    tried = connections(monkeypatch, {"k1:9093": [None]})
    check_login(at(SASL))
    assert tried == ["k1:9093"]


def test_a_server_that_does_not_answer_is_passed_over_for_the_next(monkeypatch, clock):
    tried = connections(
        monkeypatch, {"k1:9093": [kp.KafkaConnectionError("down")], "k2:9093": [None]}
    )
    check_login(at(SASL))
    assert tried == ["k1:9093", "k2:9093"]
    assert clock.slept == 0


def test_a_cluster_starting_up_is_waited_for(monkeypatch, clock):
    down = kp.KafkaConnectionError("refused")
    tried = connections(monkeypatch, {"k:1": [down, down, None]})
    check_login(KafkaSettings(bootstrap="k:1"), timeout_s=20)
    assert tried == ["k:1"] * 3
    assert clock.slept == 2.0


def test_a_refused_login_is_final_at_once(monkeypatch, clock):
    tried = connections(monkeypatch, {"k1:9093": [aio.SaslAuthenticationFailed("bad")]})
    with pytest.raises(KafkaLoginError, match="^Kafka at k1:9093,k2:9093: authentication failed"):
        check_login(at(SASL))
    assert tried == ["k1:9093"]
    assert clock.slept == 0


def test_a_cluster_that_never_answers_is_named_with_the_last_error(monkeypatch, clock):
    down = [ConnectionRefusedError(111, "Connection refused")] * 100
    connections(monkeypatch, {"k1:9093": list(down), "k2:9093": list(down)})
    with pytest.raises(KafkaLoginError) as refused:
        check_login(at(SASL), timeout_s=3)
    assert str(refused.value) == (
        "Kafka at k1:9093,k2:9093 did not answer within 3 s "
        "(SASL_SSL as 'livetally-ingest' (SCRAM-SHA-512); "
        "ConnectionRefusedError: [Errno 111] Connection refused); check LIVETALLY_BOOTSTRAP, "
        "LIVETALLY_KAFKA_SECURITY_PROTOCOL and that the brokers are up"
    )
    assert clock.slept == 3.0


def test_no_bootstrap_server_at_all_is_said_so(monkeypatch, clock):
    connections(monkeypatch, {})
    with pytest.raises(
        KafkaLoginError, match=r"did not answer within 0 s \(PLAINTEXT; no bootstrap"
    ):
        check_login(KafkaSettings(bootstrap=" , "), timeout_s=0)


@pytest.mark.parametrize("server", ["kafka", "kafka:", "kafka:port", "[::1]"])
def test_a_server_without_a_port_is_refused_naming_the_variable(monkeypatch, clock, server):
    connections(monkeypatch, {})
    with pytest.raises(KafkaLoginError) as refused:
        check_login(KafkaSettings(bootstrap=server))
    assert str(refused.value) == f"LIVETALLY_BOOTSTRAP: {server!r} is not host:port"


@pytest.mark.parametrize(
    ("bootstrap", "address"),
    [
        ("[::1]:9092", "::1:9092"),
        (":9092", "127.0.0.1:9092"),
        ("k.example:19092", "k.example:19092"),
    ],
)
def test_the_host_and_port_are_read_from_each_server(monkeypatch, clock, bootstrap, address):
    tried = connections(monkeypatch, {address: [None]})
    check_login(KafkaSettings(bootstrap=bootstrap))
    assert tried == [address]
