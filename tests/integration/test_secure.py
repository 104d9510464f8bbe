"""The whole pipeline on a SASL_SSL cluster with ACLs, configured by environment alone.

A secured local cluster is started, then used as a managed one would be: every process
gets only ``LIVETALLY_BOOTSTRAP`` and the ``LIVETALLY_KAFKA_*`` variables of its own user
(and a home without the cluster's credentials file), so nothing but the environment tells
it how to log in. The numbers must come out exact, as on the plain cluster.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from contract.settings import KafkaSettings, Settings
from livetally import kafka_server
from tests.conftest import Stack
from tests.integration.test_pipeline import STREAM, make_log, post_all, wait_exact
from tests.ports import free_port, free_port_pair

pytestmark = pytest.mark.integration


def _user_env(credentials: dict, service: str) -> dict[str, str]:
    user = credentials["users"][service]
    return {
        "LIVETALLY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "LIVETALLY_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "LIVETALLY_KAFKA_USERNAME": user["username"],
        "LIVETALLY_KAFKA_PASSWORD": user["password"],
        "LIVETALLY_KAFKA_CA_FILE": credentials["ca_file"],
    }


@pytest.fixture(scope="module")
def secure_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("secure-cluster")
    port = free_port_pair()
    cluster = Settings(home=home, kafka=KafkaSettings(bootstrap=f"127.0.0.1:{port}", port=port))
    kafka_server.start(cluster, secure=True)
    credentials = orjson.loads((home / "kafka" / "credentials.json").read_bytes())
    ports = {name: free_port() for name in ("ingest", "dashboard", "worker")}
    elsewhere = tmp_path_factory.mktemp("secure-services-home")  # no credentials file here
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("LIVETALLY_KAFKA", "LIVETALLY_"))
    }
    base.update(
        {
            "LIVETALLY_HOME": str(elsewhere),
            "LIVETALLY_BOOTSTRAP": f"127.0.0.1:{port}",
            "LIVETALLY_INGEST_PORT": str(ports["ingest"]),
            "LIVETALLY_DASHBOARD_PORT": str(ports["dashboard"]),
            "LIVETALLY_PUBLIC_PORT": "0",
            "LIVETALLY_WORKER_PORT": str(ports["worker"]),
        }
    )
    logs = tmp_path_factory.mktemp("secure-logs")
    stack = Stack(
        settings=cluster,
        env={**base, **_user_env(credentials, "admin")},
        ingest_url=f"http://127.0.0.1:{ports['ingest']}",
        dashboard_url=f"http://127.0.0.1:{ports['dashboard']}",
        worker_url=f"http://127.0.0.1:{ports['worker']}/healthz",
        procs={},
        logs=logs,
        service_env={
            name: {**base, **_user_env(credentials, name)}
            for name in ("ingest", "worker", "dashboard")
        },
    )
    try:
        # Topics are the admin's to create: the services' users may not.
        stack.cli("stream", "list")
        for name in ("worker", "ingest", "dashboard"):
            stack.start(name)
        yield stack
    finally:
        stack.stop_all()
        kafka_server.stop(cluster)


def test_every_process_logs_in_from_the_environment_and_counts_exactly(secure_stack):
    stack = secure_stack
    stack.cli("stream", "add", STREAM, "--title", "安全集群", "--tz", "Asia/Shanghai")
    keys = {
        "web": stack.cli("partner", "add", "web", "--name", "网站").stdout.strip().splitlines()[-1],
        "tv": stack.cli("partner", "add", "tv", "--name", "电视", "--mode", "reports")
        .stdout.strip()
        .splitlines()[-1],
    }
    token = stack.cli("token", "create", "--role", "viewer", "--expires", "1h")
    keys["token"] = token.stdout.strip().splitlines()[-1]
    time.sleep(5.5)  # services pick registry changes up within 5 s
    base = (int(time.time() * 1000) - 600_000) // 1000 * 1000
    log = make_log(seed=7, base_ms=base)
    post_all(stack, keys, log, seed=17)
    instants = [base + d for d in (0, 15_500, 30_000, 45_250, 60_000, 90_999, 200_000)]
    wait_exact(stack, keys["token"], log, instants)


def test_a_read_only_dashboard_says_why_admin_cannot_write(secure_stack):
    admin = secure_stack.cli("token", "create", "--role", "admin").stdout.strip().splitlines()[-1]
    time.sleep(5.5)
    refused = httpx.post(
        f"{secure_stack.dashboard_url}/api/v1/admin/partners",
        json={"id": "newsite", "name": "新网站"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=60,
    )
    assert refused.status_code == 503, refused.text
    assert "may not write the registry" in refused.json()["detail"]
    listed = secure_stack.cli("partner", "list").stdout
    assert "newsite" not in listed


def test_a_wrong_password_is_named_at_start(secure_stack, tmp_path: Path):
    env = {**secure_stack.service_env["ingest"], "LIVETALLY_KAFKA_PASSWORD": "not-it"}
    env["LIVETALLY_INGEST_PORT"] = str(free_port())
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "livetally", "serve", "ingest"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1  # a runtime error, not a usage one
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("livetally: ") and "authentication failed" in last
    assert "livetally-ingest" in last and "LIVETALLY_KAFKA_PASSWORD" in last
    assert "not-it" not in done.stderr
    assert time.monotonic() - started < 30  # refused at once, not after a timeout


def test_a_missing_setting_is_named_at_start(secure_stack):
    env = dict(secure_stack.service_env["worker"])
    del env["LIVETALLY_KAFKA_USERNAME"]
    done = subprocess.run(
        [sys.executable, "-m", "livetally", "serve", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1  # a runtime error, not a usage one
    assert done.stderr.strip().splitlines()[-1] == (
        "livetally: LIVETALLY_KAFKA_USERNAME is required with SASL_SSL"
    )
