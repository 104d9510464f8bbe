"""Worker faults: kill -9 mid-stream, a second worker joining and leaving, wiped local state."""

from __future__ import annotations

import shutil
import signal
import time

import httpx
import pytest

from contract import topics
from tests.reliability.conftest import RStack
from tests.reliability.harness import Ledger, Loader, check_exact, make_events

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

PLATFORMS = ["p04", "p05", "p06"]


def _base(offset_s: int) -> int:
    return (int(time.time() * 1000) - offset_s * 1000) // 1000 * 1000


def _keys(rel: RStack) -> dict[str, str]:
    return {p: rel.keys.partners[p] for p in PLATFORMS}


def _wait_progress(loader: Loader, fraction: float, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while loader.progress < fraction:
        assert time.monotonic() < deadline, f"load stuck at {loader.progress:.0%}"
        time.sleep(0.2)


def test_worker_kill_9_mid_stream_serves_again_within_30_s(rel: RStack) -> None:
    stream = "rel-worker"
    log = make_events(3, PLATFORMS, _base(7200), sessions=80)
    loader = Loader(
        rel.stack.ingest_url, _keys(rel), stream, log, batch_size=10, rate=len(log) / 20
    )
    loader.start()
    _wait_progress(loader, 0.4)
    rel.stack.kill("worker", signal.SIGKILL)
    restarted = time.monotonic()
    rel.stack.start("worker")
    healthy = time.monotonic() - restarted
    loader.join(120)
    assert not loader.errors, loader.errors[:5]
    # Events posted after the restart must show up: the worker is serving, not just alive.
    fresh = make_events(33, ["p04"], _base(7000), sessions=5)
    after = Loader(rel.stack.ingest_url, _keys(rel), stream, fresh, ledger=loader.ledger)
    after.start().join(60)
    assert not after.errors, after.errors[:5]
    exact = check_exact(
        rel.stack.dashboard_url, rel.keys.viewer, stream, loader.ledger.events, timeout_s=120
    )
    assert healthy < 30, f"the worker took {healthy:.1f} s to answer its health page"
    print(
        f"worker kill -9: healthy {healthy:.1f} s after restart, exact {exact:.1f} s later, "
        f"{len(loader.ledger)} acknowledged"
    )


def test_second_worker_joins_and_leaves_during_load(rel: RStack) -> None:
    stream = "rel-rebalance"
    log = make_events(4, PLATFORMS, _base(7200), sessions=100)
    loader = Loader(
        rel.stack.ingest_url, _keys(rel), stream, log, batch_size=10, rate=len(log) / 40
    )
    loader.start()
    second = rel.second_worker()
    try:
        _wait_progress(loader, 0.2)
        second.start("worker")
        _wait_progress(loader, 0.6)
        health = httpx.get(second.worker_url, timeout=5).json()
    finally:
        if "worker" in second.procs:
            second.kill("worker", signal.SIGTERM)
    loader.join(120)
    assert not loader.errors, loader.errors[:5]
    waited = check_exact(rel.stack.dashboard_url, rel.keys.viewer, stream, loader.ledger.events)
    print(
        f"second worker held partitions {health['partitions']} while running; "
        f"{len(loader.ledger)} acknowledged, exact {waited:.1f} s after the load"
    )


def test_wiped_local_state_is_rebuilt_from_kafka(rel: RStack) -> None:
    stream = "rel-wipe"
    log = make_events(8, PLATFORMS, _base(9000), sessions=60)
    ledger = Ledger()
    first = Loader(rel.stack.ingest_url, _keys(rel), stream, log, ledger=ledger)
    first.start().join(120)
    assert not first.errors, first.errors[:5]
    check_exact(rel.stack.dashboard_url, rel.keys.viewer, stream, ledger.events)
    rel.stack.kill("worker", signal.SIGKILL)
    local = rel.home / "worker"
    assert local.is_dir()
    shutil.rmtree(local)
    started = time.monotonic()
    rel.stack.start("worker")
    # More events after the wipe: the rebuilt state must hold the old ones too.
    more = make_events(88, PLATFORMS, _base(9000), sessions=20)
    Loader(rel.stack.ingest_url, _keys(rel), stream, more, ledger=ledger).start().join(120)
    check_exact(rel.stack.dashboard_url, rel.keys.viewer, stream, ledger.events)
    print(f"wiped worker state rebuilt, exact {time.monotonic() - started:.1f} s after restart")


@pytest.mark.skipif(
    not hasattr(topics, "CHECKPOINTS"), reason="no checkpoint topic yet (contract.topics)"
)
def test_rebuilt_with_an_empty_checkpoint_topic(rel: RStack) -> None:
    from kafka.admin import KafkaAdminClient
    from kafka.structs import TopicPartition

    stream = "rel-checkpoint"
    name = rel.settings.kafka.topic(topics.CHECKPOINTS)  # type: ignore[attr-defined]
    log = make_events(81, PLATFORMS, _base(8000), sessions=30)
    ledger = Ledger()
    Loader(rel.stack.ingest_url, _keys(rel), stream, log, ledger=ledger).start().join(120)
    rel.stack.kill("worker", signal.SIGKILL)
    shutil.rmtree(rel.home / "worker", ignore_errors=True)
    admin = KafkaAdminClient(bootstrap_servers=rel.settings.kafka.servers)
    try:
        parts = rel.cluster.describe(name)
        admin.delete_records({TopicPartition(name, p["partition_index"]): -1 for p in parts})
    finally:
        admin.close()
    rel.stack.start("worker")
    check_exact(rel.stack.dashboard_url, rel.keys.viewer, stream, ledger.events)
