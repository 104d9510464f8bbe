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


def _checkpoint_records(rel: RStack) -> tuple[int, int]:
    """(records present, offsets spanned) of the checkpoint topic: fewer records than offsets
    means the log cleaner has compacted it."""
    from kafka import KafkaConsumer, TopicPartition

    name = rel.settings.kafka.topic(topics.CHECKPOINTS)
    consumer = KafkaConsumer(**rel.settings.kafka.client_options(), group_id=None)
    try:
        parts = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        start = {tp: consumer.position(tp) for tp in parts}
        end = consumer.end_offsets(parts)
        present = 0
        while any(consumer.position(tp) < end[tp] for tp in parts):
            present += sum(len(r) for r in consumer.poll(timeout_ms=1000).values())
        return present, sum(end[tp] - start[tp] for tp in parts)
    finally:
        consumer.close()


def _post_and_check(rel: RStack, stream: str, log: list, ledger: Ledger) -> None:
    loader = Loader(rel.stack.ingest_url, _keys(rel), stream, log, ledger=ledger)
    loader.start().join(120)
    assert not loader.errors, loader.errors[:5]
    check_exact(rel.stack.dashboard_url, rel.keys.viewer, stream, ledger.events)


def _wait_checkpointed(rel: RStack, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while _checkpoint_records(rel)[0] == 0:
        assert time.monotonic() < deadline, "the worker wrote no checkpoint"
        time.sleep(1)


def test_rebuilt_with_an_empty_checkpoint_topic(rel: RStack) -> None:
    from kafka.admin import KafkaAdminClient

    from contract.topics import ensure_topics

    stream = "rel-checkpoint"
    name = rel.settings.kafka.topic(topics.CHECKPOINTS)
    ledger = Ledger()
    _post_and_check(rel, stream, make_events(81, PLATFORMS, _base(8000), sessions=40), ledger)
    _wait_checkpointed(rel)
    rel.stack.kill("worker", signal.SIGKILL)
    shutil.rmtree(rel.home / "worker", ignore_errors=True)
    admin = KafkaAdminClient(**rel.settings.kafka.client_options())
    try:
        admin.delete_topics([name])
        deadline = time.monotonic() + 60
        while name in admin.list_topics():
            assert time.monotonic() < deadline, "the checkpoint topic was not deleted"
            time.sleep(0.5)
    finally:
        admin.close()
    ensure_topics(rel.settings.kafka)
    assert _checkpoint_records(rel) == (0, 0)
    started = time.monotonic()
    rel.stack.start("worker")
    _post_and_check(rel, stream, make_events(82, PLATFORMS, _base(8000), sessions=10), ledger)
    print(f"empty checkpoint topic: exact {time.monotonic() - started:.1f} s after restart")


def test_rebuilt_from_a_compacted_checkpoint_topic(rel: RStack) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    stream = "rel-compact"
    name = rel.settings.kafka.topic(topics.CHECKPOINTS)
    admin = KafkaAdminClient(**rel.settings.kafka.client_options())
    try:  # make the log cleaner run now rather than in hours
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs={
            "segment.ms": "1000", "min.cleanable.dirty.ratio": "0.01",
            "min.compaction.lag.ms": "0", "delete.retention.ms": "0",
        })])  # fmt: skip
    finally:
        admin.close()
    ledger = Ledger()
    deadline = time.monotonic() + 120
    round_ = 0
    while True:  # checkpoints rewritten round after round until the cleaner drops old ones
        round_ += 1
        # Seeds apart from the one after the restart: a seed used again with another
        # session count sends the same session ids under other viewers.
        log = make_events(900 + round_, PLATFORMS, _base(8500), sessions=15)
        _post_and_check(rel, stream, log, ledger)
        present, spanned = _checkpoint_records(rel)
        if 0 < present < spanned:
            break
        assert time.monotonic() < deadline, f"not compacted: {present} of {spanned} records"
        time.sleep(3)
    rel.stack.kill("worker", signal.SIGKILL)
    shutil.rmtree(rel.home / "worker", ignore_errors=True)
    started = time.monotonic()
    rel.stack.start("worker")
    _post_and_check(rel, stream, make_events(99, PLATFORMS, _base(8500), sessions=10), ledger)
    print(
        f"compacted checkpoint topic ({present} of {spanned} records left): "
        f"exact {time.monotonic() - started:.1f} s after restart"
    )
