"""Process control: ``up``/``down``/``status`` on a real broker with stand-in services."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.settings import KafkaSettings, Settings
from livetally import kafka_server, processes
from livetally.exceptions import LivetallyError, ProcessFailed
from livetally.processes import Service
from tests.ports import free_port, free_port_block, processes_mentioning

KAFKA_PORT = 29092
NAMES = ("worker", "ingest", "dashboard")

STANDIN = '''
"""A stand-in livetally service: answers /healthz after a delay, with a child process."""
import subprocess, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

port, delay, tag = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", tag])
print(f"stand-in on port {port} with child {child.pid}", flush=True)
time.sleep(delay)


class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", port), Health).serve_forever()
'''

REPLAY = """
import json, sys, time
from pathlib import Path

path = Path(sys.argv[1])
for sent in range(1, 10000):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"events_sent": sent * 100, "speed": 60.0, "done": False}))
    tmp.replace(path)
    time.sleep(0.2)
"""

FAILING = """
import sys
print("cannot bind: address already in use (stand-in failure)", flush=True)
sys.exit(3)
"""


def _local(home: Path, port: int) -> Settings:
    return Settings(home=home, kafka=KafkaSettings(bootstrap=f"127.0.0.1:{port}", port=port))


@pytest.fixture(scope="module")
def kafka_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = _local(
        tmp_path_factory.mktemp("processes-home"), free_port_block(2, preferred=KAFKA_PORT)
    )
    yield settings
    kafka_server.stop(settings)


@pytest.fixture
def settings(kafka_home: Settings) -> Settings:
    """Settings of a home whose local broker runs (started once, restarted if a test stopped it)."""
    settings = kafka_home
    kafka_server.ensure_running(settings)
    return settings


@pytest.fixture
def standins(tmp_path: Path, settings: Settings) -> Iterator[dict[str, Service]]:
    """worker/ingest/dashboard stand-ins: each answers /healthz one second after starting."""
    script = tmp_path / "livetally_standin.py"
    script.write_text(STANDIN)
    services = {}
    for name in NAMES:
        port = free_port()
        argv = (sys.executable, str(script), str(port), "1.0", f"standin-child-{tmp_path}")
        url = f"http://127.0.0.1:{port}"
        services[name] = Service(name, argv, processes._http_ok(f"{url}/healthz"), url)
    yield services
    processes._down(settings, processes.SERVICES, kafka=False)
    assert processes_mentioning(str(tmp_path)) == []


def _pids(settings: Settings) -> dict[str, int | None]:
    return {name: processes._pid(settings, name) for name in NAMES}


@pytest.mark.integration
def test_up_starts_each_service_and_returns_once_all_are_healthy(settings, standins, capsys):
    from kafka.admin import KafkaAdminClient

    processes._up(settings, standins)

    for name, service in standins.items():
        assert processes.is_running(settings, name)
        assert service.healthy(), f"{name} was not healthy when up returned"
        assert (settings.home / "run" / f"{name}.pid").is_file()
        assert "stand-in on port" in (settings.home / "logs" / f"{name}.log").read_text()
    out = capsys.readouterr().out
    for service in standins.values():
        assert service.url in out
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka.servers)
    try:
        assert settings.kafka.topic("events") in admin.list_topics()
    finally:
        admin.close()


@pytest.mark.integration
def test_up_again_starts_no_duplicates(settings, standins, tmp_path, capsys):
    processes._up(settings, standins)
    first = _pids(settings)
    processes._up(settings, standins)

    assert _pids(settings) == first
    assert capsys.readouterr().out.count("already running") == len(NAMES)
    servers = processes_mentioning(str(tmp_path / "livetally_standin.py"))
    assert sorted(servers) == sorted(pid for pid in first.values() if pid is not None)


@pytest.mark.integration
def test_up_restarts_only_the_service_that_died(settings, standins):
    processes._up(settings, standins)
    before = _pids(settings)
    killed = before["ingest"]
    assert killed is not None
    os.killpg(killed, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes.is_running(settings, "ingest") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes.is_running(settings, "ingest")
    assert (settings.home / "run" / "ingest.pid").is_file()  # stale, left by the dead process

    processes._up(settings, standins)

    after = _pids(settings)
    assert after["ingest"] not in (None, killed)
    assert after["worker"] == before["worker"]
    assert after["dashboard"] == before["dashboard"]
    assert standins["ingest"].healthy()


@pytest.mark.integration
def test_a_service_that_exits_makes_up_fail_with_the_end_of_its_log(settings, tmp_path):
    script = tmp_path / "livetally_failing.py"
    script.write_text(FAILING)
    failing = Service("worker", (sys.executable, str(script)), lambda: False, "")

    with pytest.raises(ProcessFailed, match="address already in use") as caught:
        processes._up(settings, {"worker": failing}, timeout_s=20)

    assert "worker.log" in str(caught.value)
    assert not processes.is_running(settings, "worker")


@pytest.mark.integration
def test_a_service_that_never_gets_healthy_is_stopped_and_reported(settings, standins, tmp_path):
    never = Service("dashboard", standins["dashboard"].argv, lambda: False, "http://nowhere")

    with pytest.raises(ProcessFailed, match="did not become healthy within 2 s"):
        processes._up(settings, {"dashboard": never}, timeout_s=2)

    assert not processes.is_running(settings, "dashboard")
    assert processes_mentioning(str(tmp_path)) == []


@pytest.mark.integration
def test_status_lists_each_service_with_pid_health_log_and_kafka(settings, standins):
    processes._up(settings, standins)
    pids = _pids(settings)

    report = processes._status(settings, standins)

    lines = report.splitlines()
    for name in NAMES:
        (row,) = [line for line in lines if line.startswith(name + " ")]
        assert str(pids[name]) in row
        assert "running" in row and "healthy" in row
        assert str(settings.home / "logs" / f"{name}.log") in row
    (replay_row,) = [line for line in lines if line.startswith("replay ")]
    assert "stopped" in replay_row
    assert f"Apache Kafka {kafka_server.kafka_version()}" in report


@pytest.mark.integration
def test_replay_runs_in_the_background_and_status_shows_its_progress(settings, tmp_path):
    script = tmp_path / "livetally_replay.py"
    script.write_text(REPLAY)
    progress = settings.home / "run" / "replay.json"
    argv = (sys.executable, str(script), str(progress))
    try:
        processes._start_replay(settings, argv, settle_s=0.5)
        assert processes.is_running(settings, "replay")
        deadline = time.monotonic() + 10
        while not progress.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        sent = json.loads(progress.read_text())["events_sent"]

        report = processes._status(settings, {})

        (row,) = [line for line in report.splitlines() if line.startswith("replay ")]
        assert "running" in row
        assert "Replay progress: events_sent=" in report
        assert "speed=60.0" in report
        assert sent >= 100
    finally:
        processes._down(settings, ("replay",), kafka=False)
    assert not processes.is_running(settings, "replay")
    assert processes_mentioning(str(script)) == []


@pytest.mark.parametrize(("speed", "scale"), [(0.0, 1.0), (-2.0, 1.0), (1.0, 0.0), (1.0, -1.0)])
def test_start_replay_rejects_speed_or_scale_that_is_not_positive(tmp_path, speed, scale):
    with pytest.raises(LivetallyError, match="positive"):
        processes.start_replay(Settings(home=tmp_path), speed=speed, scale=scale)
    assert not (tmp_path / "run" / "replay.pid").exists()


@pytest.mark.integration
def test_down_stops_every_service_and_the_kafka_livetally_started(settings, standins, tmp_path):
    processes._up(settings, standins)
    assert processes_mentioning(str(tmp_path))
    assert processes_mentioning(str(settings.home / "kafka"))

    processes.down(settings)

    assert processes_mentioning(str(tmp_path)) == []
    assert processes_mentioning(str(settings.home / "kafka")) == []
    assert not list((settings.home / "run").glob("*.pid"))
    assert "stopped" in kafka_server.status(settings)
