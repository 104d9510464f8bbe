"""Crash recovery: kill -9 after a checkpoint, with none, with no local state; unpublished."""

from __future__ import annotations

import shutil
import time

import httpx
import pytest

import tests.integration.test_pipeline as pipeline
from contract.topics import CHECKPOINTS, EVENTS, ensure_topics
from livetally.bench.kafkaio import OffsetWatch, end_offsets
from stream.config import StreamConfig
from tests.conftest import Stack
from tests.integration.test_pipeline import make_log, post_all, wait_exact
from tests.integration.test_workers import register
from tests.oracle import Accepted

pytestmark = pytest.mark.integration

STREAMS = (
    "w4-recover-checkpoint",
    "w4-recover-empty",
    "w4-recover-unpublished",
    "w4-recover-clean-stop",
)


@pytest.fixture(scope="module")
def registered_keys(stack: Stack) -> dict[str, str]:
    """This module's streams, partner keys and token."""
    return register(stack, STREAMS)


def health(stack: Stack) -> dict:
    return httpx.get(stack.worker_url, timeout=5).json()


def restart_worker_with_fast_checkpoints(stack: Stack) -> None:
    # Checkpoint every second so the test does not wait 30 s for one.
    stack.env["LIVETALLY_CHECKPOINT_INTERVAL_S"] = "1"
    stack.env["LIVETALLY_CHECKPOINT_MIN_RECORDS"] = "1"
    stack.start("worker")


def wait_checkpointed(stack: Stack) -> None:
    """Until every partition the worker counts has a checkpoint at its current offset."""
    deadline = time.monotonic() + 60
    while True:
        doc = health(stack)
        if doc["offsets"] and all(
            doc["checkpoints"].get(p) == o for p, o in doc["offsets"].items()
        ):
            return
        assert time.monotonic() < deadline, f"no checkpoint caught up: {doc}"
        time.sleep(0.5)


def test_kill_9_after_a_checkpoint_restores_from_it_exactly(
    stack: Stack,
    registered_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(pipeline, "STREAM", STREAMS[0])
    stack.kill("worker", 15)
    restart_worker_with_fast_checkpoints(stack)
    base = (int(time.time() * 1000) - 3_600_000) // 1000 * 1000
    log = make_log(seed=51, base_ms=base, sessions=30)
    half = len(log) // 2
    post_all(stack, registered_keys, log[:half], seed=511)
    wait_checkpointed(stack)
    stack.kill("worker", 9)
    post_all(stack, registered_keys, log[half:], seed=512)
    stack.start("worker")
    instants = [base + d for d in (4_000, 33_000, 61_000, 140_000)]
    wait_exact(stack, registered_keys["token"], log, instants)
    doc = health(stack)
    assert doc["restored_from_checkpoint"] >= 1, doc


def test_no_checkpoints_and_no_local_state_still_recover_exactly(
    stack: Stack,
    registered_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(pipeline, "STREAM", STREAMS[1])
    base = (int(time.time() * 1000) - 5_400_000) // 1000 * 1000
    log = make_log(seed=52, base_ms=base, sessions=30)
    half = len(log) // 2
    post_all(stack, registered_keys, log[:half], seed=521)
    stack.kill("worker", 9)
    # Empty the checkpoints topic (delete and recreate it) and wipe the worker's directory.
    from kafka.admin import KafkaAdminClient

    kafka = stack.settings.kafka
    admin = KafkaAdminClient(bootstrap_servers=kafka.servers)
    try:
        admin.delete_topics([kafka.topic(CHECKPOINTS)])
        deadline = time.monotonic() + 30
        while kafka.topic(CHECKPOINTS) in admin.list_topics():
            assert time.monotonic() < deadline, "checkpoints topic not deleted"
            time.sleep(0.5)
    finally:
        admin.close()
    for _ in range(20):
        try:
            ensure_topics(kafka)
            break
        except Exception:  # the deletion may still be finishing on the broker
            time.sleep(0.5)
    shutil.rmtree(stack.settings.home / "worker", ignore_errors=True)
    post_all(stack, registered_keys, log[half:], seed=522)
    stack.start("worker")
    instants = [base + d for d in (4_000, 33_000, 61_000, 140_000)]
    wait_exact(stack, registered_keys["token"], log, instants)
    doc = health(stack)
    assert doc["rebuilds"] >= 1 and doc["restored_from_checkpoint"] == 0, doc


def wait_committed(stack: Stack) -> None:
    """Until the worker's consumer group has committed the whole events topic."""
    kafka = stack.settings.kafka
    topic = kafka.topic(EVENTS)
    watch = OffsetWatch(kafka.servers, StreamConfig.from_env(stack.env).app_id, topic)
    try:
        ends = end_offsets(kafka.servers, topic)
        progress = watch.wait_done(ends, timeout_s=60)
        assert progress.done_at is not None, f"committed {progress.last_offsets}, end {ends}"
    finally:
        watch.close()


def count_unpublished(stack: Stack, keys: dict[str, str], log: list[Accepted], seed: int) -> None:
    """Post ``log`` to a worker that counts and commits it but never publishes on its own
    (flush interval one hour), and check that the dashboard indeed shows none of it."""
    stack.kill("worker", 15)
    stack.env["LIVETALLY_FLUSH_INTERVAL_S"] = "3600"
    try:
        stack.start("worker")
    finally:
        del stack.env["LIVETALLY_FLUSH_INTERVAL_S"]
    post_all(stack, keys, log, seed=seed)
    wait_committed(stack)
    last = max(a.ts for a in log) // 1000 * 1000
    shown = pipeline.summary(stack, keys["token"], last)["total"]
    assert shown["views"] == 0, f"published before the test's point: {shown}"


def restart_normal_worker(stack: Stack) -> None:
    """Kill whatever worker runs (-9) and start one with the stack's settings."""
    if "worker" in stack.procs:
        stack.kill("worker", 9)
    stack.start("worker")


def test_what_a_crashed_worker_committed_but_never_published_is_published_after_restart(
    stack: Stack,
    registered_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
):
    # Offsets are committed every second, partials published every flush interval: a
    # worker killed in between leaves counted events behind the committed offsets. Here
    # the gap is made as wide as it gets, and no event follows the restart, so no record
    # of these partitions will ever arrive again.
    monkeypatch.setattr(pipeline, "STREAM", STREAMS[2])
    base = (int(time.time() * 1000) - 7_200_000) // 1000 * 1000
    log = make_log(seed=53, base_ms=base, sessions=20)
    try:
        count_unpublished(stack, registered_keys, log, seed=531)
    finally:
        restart_normal_worker(stack)  # the kill -9, then a restart with no event after it
    instants = [base + d for d in (4_000, 33_000, 61_000, 140_000)]
    wait_exact(stack, registered_keys["token"], log, instants)


def test_a_worker_stopped_cleanly_publishes_what_it_counted_before_it_exits(
    stack: Stack,
    registered_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(pipeline, "STREAM", STREAMS[3])
    base = (int(time.time() * 1000) - 8_100_000) // 1000 * 1000
    log = make_log(seed=54, base_ms=base, sessions=20)
    try:
        count_unpublished(stack, registered_keys, log, seed=541)
        stack.kill("worker", 15)
        # No worker runs now: the numbers must come from what the stopping one published.
        instants = [base + d for d in (4_000, 33_000, 61_000, 140_000)]
        wait_exact(stack, registered_keys["token"], log, instants)
    finally:
        restart_normal_worker(stack)
