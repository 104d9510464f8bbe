"""Part 4b: the worker's resident memory with 100k and 1M sessions of state."""

from __future__ import annotations

import time

import httpx

from contract.topics import EVENTS, ensure_topics
from livetally.bench.aggregate import measure_group
from livetally.bench.context import Context
from livetally.bench.eventlog import batch_records, session_batches
from livetally.bench.kafkaio import produce
from livetally.exceptions import ProcessFailed

__all__ = ["run_memory"]

PREFIX = "bench.mem."
_KEYS = {100_000: "rss_mib_100k_sessions", 1_000_000: "rss_mib_1m_sessions"}


def _sessions(url: str) -> int:
    return int(httpx.get(url, timeout=10).json().get("sessions", 0))


def run_memory(ctx: Context) -> None:
    """Fill one worker with join events of new sessions and read its RSS at each size."""
    sizes = ctx.config.sizes
    stack = ctx.stack
    partitions, group = 4, "bench-mem"
    kafka = stack.kafka(PREFIX, partitions)
    ensure_topics(kafka)
    topic = kafka.topic(EVENTS)
    worker = stack.serve(
        "worker", "worker-mem", stack.env(PREFIX, partitions, LIVETALLY_STREAM_APP_ID=group)
    )
    time.sleep(2.0)
    idle = worker.rss_bytes()
    readings: dict[str, float] = {"idle": round(idle / 2**20, 1)}
    done = 0
    for target in sorted(sizes.memory_sessions):
        records = (
            ((r.partition, r.key, r.value), r.count)
            for batch in session_batches(target - done, seed=ctx.config.seed, start=done)
            for r in batch_records(batch, ctx.base_ms, partitions=partitions)
        )
        prefill = produce(stack.servers, topic, records)
        measure_group(ctx, group, topic, prefill, [worker])
        deadline = time.monotonic() + 60
        while _sessions(worker.health_url) < target and time.monotonic() < deadline:
            time.sleep(0.5)
        held = _sessions(worker.health_url)
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
            ctx.results.set(key, None, f"skipped in --quick (would hold {target:,} sessions)")
    ctx.results.details["memory_mib"] = readings
    ctx.extra_rows.append(("Worker RSS idle (before any event)", f"{readings['idle']:,.1f} MiB"))
    stack.stop(worker)
