"""Part 4b: the worker's resident memory with 100k, 1M and 10M sessions of state, and how
long a fresh worker takes to restore the largest from its checkpoints."""

from __future__ import annotations

import time
from typing import Any

import httpx

from contract.topics import EVENTS, ensure_topics
from livetally.bench.aggregate import measure_group
from livetally.bench.context import Context
from livetally.bench.eventlog import batch_records, session_batches
from livetally.bench.kafkaio import produce
from livetally.bench.stack import Service
from livetally.exceptions import ProcessFailed

__all__ = ["run_memory"]

PREFIX = "bench.mem."
PARTITIONS = 4
_KEYS = {
    100_000: "rss_mib_100k_sessions",
    1_000_000: "rss_mib_1m_sessions",
    10_000_000: "rss_mib_10m_sessions",
}
_RESTORE_KEY = (10_000_000, "restore_s_10m_sessions")
CHECKPOINT_WAIT_S = 180.0
"""How long the filled worker may take to checkpoint every partition up to its end."""


def _health(service: Service) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(service.health_url, timeout=10).json()
    return answer


def _sessions(service: Service) -> int:
    return int(_health(service).get("sessions", 0))


def _wait_checkpointed(worker: Service) -> None:
    """Until every partition's newest checkpoint covers everything the worker counted."""
    deadline = time.monotonic() + CHECKPOINT_WAIT_S
    while True:
        health = _health(worker)
        offsets, checkpoints = health["offsets"], health["checkpoints"]
        if len(offsets) == PARTITIONS and checkpoints == offsets:
            return
        if time.monotonic() > deadline:
            raise ProcessFailed(
                f"the worker's checkpoints {checkpoints} did not reach its offsets {offsets}"
                f" in {CHECKPOINT_WAIT_S:.0f} s"
            )
        time.sleep(1.0)


def _restore(ctx: Context, env: dict[str, str], target: int) -> dict[str, float]:
    """Start a fresh worker on the group and time it until it holds ``target`` sessions."""
    started = time.monotonic()
    worker = ctx.stack.serve("worker", "worker-mem-restore", env)
    deadline = started + 600
    while _sessions(worker) < target:
        if time.monotonic() > deadline:
            raise ProcessFailed(f"a fresh worker did not restore {target:,} sessions in 600 s")
        time.sleep(0.2)
    took = time.monotonic() - started
    health = _health(worker)
    restored = int(health["restored_from_checkpoint"])
    rss = worker.rss_bytes() / 2**20
    ctx.stack.stop(worker)
    if restored != PARTITIONS:
        raise ProcessFailed(
            f"the fresh worker restored {restored} of {PARTITIONS} partitions from checkpoints"
        )
    return {
        "sessions": target,
        "restore_s": round(took, 1),
        "last_partition_build_s": round(float(health["last_rebuild_s"] or 0.0), 1),
        "rss_mib_after_restore": round(rss, 1),
    }


def run_memory(ctx: Context) -> None:
    """Fill one worker with join events of new sessions and read its RSS at each size;
    then restore the largest state into a fresh worker from its checkpoints."""
    sizes = ctx.config.sizes
    stack = ctx.stack
    group = "bench-mem"
    kafka = stack.kafka(PREFIX, PARTITIONS)
    ensure_topics(kafka)
    topic = kafka.topic(EVENTS)
    # Checkpoints every 10 s whatever the partition took since, so that the restore below
    # need not wait long for them.
    env = stack.env(
        PREFIX,
        PARTITIONS,
        LIVETALLY_STREAM_APP_ID=group,
        LIVETALLY_CHECKPOINT_INTERVAL_S="10",
        LIVETALLY_CHECKPOINT_MIN_RECORDS="1",
    )
    worker = stack.serve("worker", "worker-mem", env)
    time.sleep(2.0)
    idle = worker.rss_bytes()
    readings: dict[str, float] = {"idle": round(idle / 2**20, 1)}
    done = 0
    for target in sorted(sizes.memory_sessions):
        records = (
            ((r.partition, r.key, r.value), r.count)
            for batch in session_batches(target - done, seed=ctx.config.seed, start=done)
            for r in batch_records(batch, ctx.base_ms, partitions=PARTITIONS)
        )
        prefill = produce(stack.servers, topic, records)
        measure_group(ctx, group, topic, prefill, [worker])
        deadline = time.monotonic() + 60
        while _sessions(worker) < target and time.monotonic() < deadline:
            time.sleep(0.5)
        held = _sessions(worker)
        if held != target:
            raise ProcessFailed(f"the worker holds {held:,} sessions, expected {target:,}")
        time.sleep(1.0)
        rss = worker.rss_bytes() / 2**20
        readings[str(target)] = round(rss, 1)
        done = target
        ctx.say(f"memory: {target:,} sessions -> worker RSS {rss:,.1f} MiB")
        if target in _KEYS:
            ctx.results.set(_KEYS[target], rss)
    for target, key in _KEYS.items():
        if target not in sizes.memory_sessions:
            ctx.results.set(key, None, f"not in this run's sizes (would hold {target:,} sessions)")
    ctx.results.details["memory_mib"] = readings
    ctx.extra_rows.append(("Worker RSS idle (before any event)", f"{readings['idle']:,.1f} MiB"))
    _wait_checkpointed(worker)
    stack.stop(worker)
    restore = _restore(ctx, env, done)
    ctx.results.details["memory_restore"] = restore
    ctx.say(
        f"memory: a fresh worker restored {done:,} sessions in {restore['restore_s']:.1f} s"
        f" (RSS {restore['rss_mib_after_restore']:,.1f} MiB)"
    )
    size, key = _RESTORE_KEY
    if done == size:
        ctx.results.set(key, restore["restore_s"])
    else:
        ctx.results.set(key, None, f"the largest state in this run is {done:,} sessions")
    ctx.extra_rows.append(
        (f"Restore of {done:,} sessions into a fresh worker", f"{restore['restore_s']:.1f} s")
    )
