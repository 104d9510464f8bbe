"""The secrets of docker-compose.secure.yml: what each volume holds, and the broker's start
script run for real on Apache Kafka with them (paths taken from the container to here)."""

from __future__ import annotations

import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contract.kafka_auth import KafkaSecurity, read_security
from contract.kafka_login import check_login
from contract.settings import KafkaSettings
from livetally.cli import main
from livetally.kafka_compose import (
    KAFKA_FILES,
    SERVICE_DIRS,
    ComposeBroker,
    Owner,
    write_secrets,
)
from livetally.kafka_secure import Listener
from tests.livetally import compose
from tests.ports import free_port, processes_mentioning


def _properties(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def test_each_volume_holds_only_what_its_reader_needs(tmp_path):
    credentials = write_secrets(tmp_path)
    assert sorted(p.name for p in (tmp_path / "kafka").iterdir()) == sorted(KAFKA_FILES)
    for directory, service in SERVICE_DIRS.items():
        files = {p.name: p for p in (tmp_path / directory).iterdir()}
        extra = {"registrar-password"} if service == "dashboard" else set()
        assert set(files) == {"ca.pem", "password"} | extra, directory
        assert files["password"].read_text().strip() == credentials.users[service].password
        others = {u.password for s, u in credentials.users.items() if s != service}
        if service == "dashboard":
            others.discard(credentials.users["registrar"].password)
        for path in files.values():
            assert not any(p in path.read_text() for p in others), path
    for directory in tmp_path.iterdir():  # each volume's top: its owner's only
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
        if directory.name != "private":
            for path in directory.iterdir():
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # The broker's user is in the SCRAM users created at format time; the services' too.
    args = (tmp_path / "kafka" / "scram.args").read_text().splitlines()
    assert args.count("--add-scram") == len(credentials.everyone())
    names = set(re.findall(r"name=([\w-]+),", " ".join(args)))
    assert names == {u.username for u in credentials.everyone()}


def test_a_second_run_keeps_the_ca_the_passwords_and_the_cluster_id(tmp_path):
    first = write_secrets(tmp_path)
    kept = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.name in ("ca.pem", "cluster.id")}
    second = write_secrets(tmp_path)
    assert second == first
    assert {p: p.read_bytes() for p in kept} == kept


def test_the_broker_listens_where_the_compose_network_expects(tmp_path):
    write_secrets(tmp_path)
    props = _properties(tmp_path / "kafka" / "server.properties")
    assert props["advertised.listeners"] == "INTERNAL://kafka:19092,EXTERNAL://localhost:9092"
    assert props["listener.security.protocol.map"] == (
        "INTERNAL:SASL_SSL,EXTERNAL:SASL_SSL,CONTROLLER:SSL"
    )
    assert props["inter.broker.listener.name"] == "INTERNAL"
    assert props["controller.quorum.voters"] == "1@kafka:9093"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["log.dirs"] == ComposeBroker().data_dir
    for key in ("ssl.keystore.location", "ssl.truststore.location"):
        assert props[key].startswith(ComposeBroker().mount + "/")
        assert props[key].rsplit("/", 1)[1] in KAFKA_FILES
    for name in ("internal", "external"):
        assert "livetally-broker" in props[f"listener.name.{name}.scram-sha-512.sasl.jaas.config"]


def test_owners_are_numbers():
    assert Owner.parse("1000:1001") == Owner(1000, 1001)
    assert Owner.parse("10001") == Owner(10001, 10001)
    with pytest.raises(ValueError, match="UID"):
        Owner.parse("appuser")


@pytest.mark.skipif(os.geteuid() != 0, reason="handing files to another user needs root")
def test_files_are_handed_to_their_readers(tmp_path):
    write_secrets(tmp_path, kafka_owner=Owner(1000, 1000), service_owner=Owner(10001, 10001))
    for path in [tmp_path / "kafka", *(tmp_path / "kafka").iterdir()]:
        assert (path.stat().st_uid, path.stat().st_gid) == (1000, 1000), path
    for directory in SERVICE_DIRS:
        for path in [tmp_path / directory, *(tmp_path / directory).iterdir()]:
            assert path.stat().st_uid == 10001, path
    assert all(p.stat().st_uid == os.geteuid() for p in (tmp_path / "private").rglob("*"))


def test_the_cli_names_a_bad_owner(tmp_path, capsys):
    assert main(["kafka", "secrets", str(tmp_path), "--kafka-owner", "appuser"]) == 2
    assert "UID" in capsys.readouterr().err


# --- for real ---------------------------------------------------------------------------


def _start_script(doc: dict, mount: Path, bin_dir: Path, data: Path) -> str:
    """The kafka service's entrypoint script as its shell runs it, with the container's
    paths taken here: ``$$`` is Compose's escape for ``$``."""
    script = doc["services"]["kafka"]["entrypoint"][-1].replace("$$", "$")
    for container, here in (
        (ComposeBroker().mount, mount),
        (ComposeBroker().data_dir, data),
        ("/opt/kafka/bin", bin_dir),
    ):
        script = script.replace(container, str(here))
    return script


def test_the_broker_refuses_a_volume_formatted_by_another_cluster(tmp_path):
    write_secrets(tmp_path / "secrets")
    data = tmp_path / "data"
    data.mkdir()
    (data / "meta.properties").write_text("version=1\ncluster.id=AnotherCluster0000000\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kafka-storage.sh", "kafka-server-start.sh"):
        (bin_dir / tool).write_text(f"#!/bin/sh\necho {tool} ran\n")
        (bin_dir / tool).chmod(0o755)
    doc = compose.load(compose.BASE, compose.SECURE)
    script = _start_script(doc, tmp_path / "secrets" / "kafka", bin_dir, data)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "another cluster's data" in done.stderr
    assert "ran" not in done.stdout
    # Its own cluster's volume goes on to the (already formatted) start.
    cluster_id = (tmp_path / "secrets" / "kafka" / "cluster.id").read_text().strip()
    (data / "meta.properties").write_text(f"version=1\ncluster.id={cluster_id}\n")
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["kafka-storage.sh", "ran", "kafka-server-start.sh", "ran"]


def _tool(bin_dir: Path, name: str, main_class: str, libs: Path, log4j: Path) -> None:
    path = bin_dir / name
    path.write_text(
        "#!/bin/sh\n"
        f"exec java -Xmx384m -Dlog4j2.configurationFile={shlex.quote(str(log4j))} "
        f'-cp {shlex.quote(str(libs))}/"*" {main_class} "$@"\n',
        encoding="utf-8",
    )
    path.chmod(0o755)


@pytest.fixture(scope="module")
def compose_broker(tmp_path_factory):
    """The broker started by docker-compose.secure.yml's script from `kafka secrets` files,
    listening on loopback ports instead of the compose network."""
    from livetally import kafka_install

    root = tmp_path_factory.mktemp("compose-secure")
    out = root / "secrets"
    internal, external, controller = free_port(), free_port(), free_port()
    broker = ComposeBroker(
        internal=Listener("INTERNAL", f"127.0.0.1:{internal}", f"127.0.0.1:{internal}"),
        external=Listener("EXTERNAL", f"127.0.0.1:{external}", f"localhost:{external}"),
        controller_bind=f"127.0.0.1:{controller}",
        controller_voter=f"127.0.0.1:{controller}",
        mount=str(out / "kafka"),
        data_dir=str(root / "data"),
    )
    write_secrets(out, broker)
    libs = kafka_install.ensure_libs()
    log4j = kafka_install.log4j_config()
    bin_dir = root / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, "kafka-storage.sh", "kafka.tools.StorageTool", libs, log4j)
    _tool(bin_dir, "kafka-server-start.sh", "kafka.Kafka", libs, log4j)
    doc = compose.load(compose.BASE, compose.SECURE)
    script = _start_script(doc, out / "kafka", bin_dir, root / "data")

    def start() -> subprocess.Popen[bytes]:
        log = (root / "kafka.log").open("ab")
        return subprocess.Popen(
            ["bash", "-c", script],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "LOG_DIR": str(root / "logs")},
            start_new_session=True,
        )

    def admin_env() -> dict[str, str]:
        return {
            **os.environ,
            **compose.environment(doc, "topics", out),
            "LIVETALLY_BOOTSTRAP": f"127.0.0.1:{internal}",
            "LIVETALLY_HOME": str(root / "home"),
        }

    process = start()
    state = {"process": process}
    try:
        yield doc, out, broker, internal, external, start, admin_env, state
    finally:
        proc = state["process"]
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert processes_mentioning(str(root)) == []


def _kafka(doc: dict, service: str, out: Path, port: int, *, as_service: str) -> KafkaSettings:
    env = compose.environment(doc, service, out)
    security = read_security(env, out, as_service)
    return KafkaSettings(bootstrap=f"127.0.0.1:{port}", security=security)


def _setup(admin_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = compose.load(compose.BASE, compose.SECURE)["services"]["topics"]["command"]
    return subprocess.run(
        [sys.executable, "-m", "livetally", *command],
        env=admin_env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.integration
def test_the_compose_broker_runs_secured_with_each_services_user(compose_broker):
    from kafka import KafkaProducer
    from kafka.errors import KafkaError, TopicAuthorizationFailedError

    doc, out, broker, internal, external, start, admin_env, state = compose_broker
    done = _setup(admin_env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ACLs in force" in done.stdout

    def producer(kafka: KafkaSettings) -> KafkaProducer:
        return KafkaProducer(**kafka.client_options(), max_block_ms=10_000)

    ingest = producer(_kafka(doc, "ingest", out, internal, as_service="ingest"))
    try:
        assert ingest.send(KafkaSettings().topic("events"), b"e").get(timeout=30).offset >= 0
        with pytest.raises(TopicAuthorizationFailedError):
            ingest.send(KafkaSettings().topic("registry"), b"r").get(timeout=30)
    finally:
        ingest.close()
    # The dashboard's /admin writes the registry as the registrar, on the host's listener
    # too (its certificate names localhost).
    registrar = producer(_kafka(doc, "dashboard", out, external, as_service="registrar"))
    try:
        registrar.send(KafkaSettings().topic("registry"), b"{}", key=b"probe/c").get(timeout=30)
    finally:
        registrar.close()
    dashboard = producer(_kafka(doc, "dashboard", out, internal, as_service="dashboard"))
    try:
        # Refused before the topic is even asked about: a user that may write nothing may
        # not start an (idempotent) producer either.
        with pytest.raises(KafkaError, match="AuthorizationFailed"):
            dashboard.send(KafkaSettings().topic("registry"), b"{}").get(timeout=30)
    finally:
        dashboard.close()


@pytest.mark.integration
def test_the_health_checks_login_works_and_a_restart_keeps_the_users(compose_broker):
    doc, out, broker, internal, external, start, admin_env, state = compose_broker
    props = _properties(out / "kafka" / "client.properties")
    jaas = props["sasl.jaas.config"]
    ((user, password),) = re.findall(r'username="([^"]+)" password="([^"]+)"', jaas)
    health = KafkaSecurity(
        protocol=props["security.protocol"],
        mechanism=props["sasl.mechanism"],
        username=user,
        password=password,
        ca_file=props["ssl.truststore.location"],
    )
    check_login(KafkaSettings(bootstrap=f"127.0.0.1:{internal}", security=health), 60)
    # Stop and start the broker the way the container restarts: the format is skipped,
    # the users (created at the first format) still log in, the ACLs are still there.
    proc = state["process"]
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)
    state["process"] = start()
    worker = _kafka(doc, "stream", out, internal, as_service="worker")
    check_login(worker, 60)
    done = _setup(admin_env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert "topics created: none" in done.stdout
    deadline = time.monotonic() + 60
    log = (out.parent / "kafka.log").read_text(encoding="utf-8", errors="replace")
    while "already formatted" not in log.lower() and time.monotonic() < deadline:
        time.sleep(1)
        log = (out.parent / "kafka.log").read_text(encoding="utf-8", errors="replace")
    assert "already formatted" in log.lower()


def test_a_damaged_file_from_a_past_run_is_one_line_not_a_traceback(tmp_path, capsys):
    write_secrets(tmp_path)
    (tmp_path / "private" / "kafka" / "credentials.json").write_text("{not json")
    assert main(["kafka", "secrets", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("livetally: cannot write the secrets under")
