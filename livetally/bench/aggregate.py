"""Parts 2 and 4: aggregation through the worker, next to the limit and its two peers."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from contract.packing import MAX_RECORD_BYTES
from contract.records import bundle_size, encode_bundle
from contract.topics import EVENTS, STATS, ensure_topics
from livetally.bench.context import Context
from livetally.bench.eventlog import (
    Batch,
    batch_records,
    body_batch,
    read_log,
    take_events,
    textbook_records,
)
from livetally.bench.kafkaio import (
    GroupProgress,
    OffsetWatch,
    Prefill,
    RecordOut,
    create_topic,
    end_offsets,
    group_members,
    produce,
)
from livetally.bench.kafkaio import stats_events as read_stats_events
from livetally.bench.limit import count_topic
from livetally.bench.stack import Service
from livetally.exceptions import ProcessFailed

__all__ = [
    "COALESCED_EVENTS",
    "PeerRun",
    "Throughput",
    "coalesced",
    "log_batches",
    "measure_group",
    "run_aggregation",
    "run_quix",
    "run_scale",
]

CATCH_UP_TIMEOUT_S = 900.0
COALESCED_EVENTS = 500
"""Events per record of the coalesced fill: about what ingest's coalescer wrote under the
ingest part's load (446–491 events a record, docs/performance.md)."""


@dataclass(frozen=True)
class Throughput:
    """Events a consumer group went through, from its first commit to its last."""

    events: int
    seconds: float

    @property
    def per_s(self) -> float | None:
        """Events per second."""
        return self.events / self.seconds if self.seconds > 0 else None


def log_batches(path: Path, limit: int) -> Iterator[Batch]:
    """The first ``limit`` events of the event log, as batches with absolute ``ts``."""
    return take_events((body_batch(p, b) for p, b in read_log(path)), limit)


def coalesced(
    records: Iterable[tuple[RecordOut, int]], max_events: int
) -> Iterator[tuple[RecordOut, int]]:
    """The records' batches bundled per partition, in order, as ingest's coalescer writes
    them: consecutive batches of a partition share a bundle while it holds at most
    ``max_events`` events and ``MAX_RECORD_BYTES``; a lone batch stays the record it was.
    Records without a partition pass through unchanged."""
    held: dict[int, list[tuple[RecordOut, int]]] = {}

    def out(group: list[tuple[RecordOut, int]]) -> tuple[RecordOut, int]:
        if len(group) == 1:
            return group[0]
        (partition, key, _), _ = group[0]
        value = encode_bundle([record[2] for record, _ in group])
        return (partition, key, value), sum(count for _, count in group)

    for item in records:
        (partition, _, value), count = item
        if partition is None:
            yield item
            continue
        group = held.get(partition)
        if group is not None:
            events = sum(c for _, c in group) + count
            size = bundle_size([len(r[2]) for r, _ in group] + [len(value)])
            if events > max_events or size > MAX_RECORD_BYTES:
                yield out(group)
                group = None
        if group is None:
            held[partition] = [item]
        else:
            group.append(item)
    for group in held.values():
        yield out(group)


def prefill_events(
    ctx: Context, topic: str, partitions: int, limit: int, bundle_events: int = 0
) -> Prefill:
    """Write the log's first ``limit`` events to ``topic`` packed as ingest packs them, one
    request's batches a record, or coalesced into bundles of ``bundle_events`` if set."""
    records: Iterable[tuple[RecordOut, int]] = (
        ((r.partition, r.key, r.value), r.count)
        for batch in log_batches(ctx.log_path, limit)
        for r in batch_records(batch, 0, partitions=partitions)
    )
    if bundle_events:
        records = coalesced(records, bundle_events)
    return produce(ctx.stack.servers, topic, records)


def measure_group(
    ctx: Context,
    group: str,
    topic: str,
    prefill: Prefill,
    consumers: Sequence[Service],
    started_at: float | None = None,
    then: Callable[[], Sequence[str]] | None = None,
) -> Throughput:
    """Wait until ``group`` has committed the whole fill; events/s between first and last commit.

    Timing from the first commit leaves out start-up and group joining. When that first
    commit already covers more than a fifth of the fill (commits came late), the span from
    ``started_at`` (when the consumers could start) over every event is used instead.
    ``then`` names the topics the consumers write for themselves on the way (a Quix
    repartition topic): once the fill is committed, their commits must reach the ends they
    have then, and the last of those commits ends the span.
    """

    def alive() -> bool:
        return all(c.proc.poll() is None for c in consumers)

    progress = _wait_committed(ctx, group, topic, prefill.ends, alive)
    if progress.done_at is None or progress.first_at is None or progress.first_offsets is None:
        raise _stuck(group, topic, progress, prefill.ends, consumers)
    done_at = progress.done_at
    for inner in then() if then is not None else ():
        ends = end_offsets(ctx.stack.servers, inner)
        inner_progress = _wait_committed(ctx, group, inner, ends, alive)
        if inner_progress.done_at is None:
            raise _stuck(group, inner, inner_progress, ends, consumers)
        done_at = max(done_at, inner_progress.done_at)
    events = prefill.events_between(progress.first_offsets, prefill.ends)
    if started_at is not None and events < 0.8 * prefill.events:
        return Throughput(prefill.events, done_at - started_at)
    return Throughput(events, done_at - progress.first_at)


def _stuck(
    group: str,
    topic: str,
    progress: GroupProgress,
    ends: dict[int, int],
    consumers: Sequence[Service],
) -> ProcessFailed:
    dead = [c for c in consumers if c.proc.poll() is not None]
    why = f"{dead[0].name} exited:\n{dead[0].tail()}" if dead else "it stalled or timed out"
    return ProcessFailed(
        f"{group} did not get through {topic} (committed {progress.last_offsets}, "
        f"end {ends}): {why}"
    )


def _wait_committed(
    ctx: Context, group: str, topic: str, ends: dict[int, int], alive: Callable[[], bool]
) -> GroupProgress:
    watch = OffsetWatch(ctx.stack.servers, group, topic)
    try:
        return watch.wait_done(ends, timeout_s=CATCH_UP_TIMEOUT_S, alive=alive)
    finally:
        watch.close()


def _worker(ctx: Context, name: str, prefix: str, partitions: int, group: str) -> Service:
    env = ctx.stack.env(prefix, partitions, LIVETALLY_STREAM_APP_ID=group)
    return ctx.stack.serve("worker", name, env)


def _stats_events(ctx: Context, topic: str, expected: int, timeout_s: float = 15.0) -> int:
    deadline = time.monotonic() + timeout_s
    counted = read_stats_events(ctx.stack.servers, topic)
    while counted != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        counted = read_stats_events(ctx.stack.servers, topic)
    return counted


def _note_miscount(ctx: Context, what: str, counted: int, produced: int) -> None:
    """A worker whose stats do not add up to the fill is recorded, never hidden."""
    if counted != produced:
        ctx.results.notes.append(
            f"{what}: the stats counted {counted:,} of the {produced:,} events written"
        )


def run_aggregation(ctx: Context) -> None:
    """One worker on a pre-filled 4-partition topic; the limit and textbook next to it."""
    sizes = ctx.config.sizes
    results = ctx.results
    stack = ctx.stack
    prefix, partitions, group = "bench.agg.", 4, "bench-agg"
    kafka = stack.kafka(prefix, partitions)
    ensure_topics(kafka)
    topic = kafka.topic(EVENTS)
    prefill = prefill_events(ctx, topic, partitions, sizes.aggregate_events)
    ctx.say(
        f"aggregation: {prefill.events:,} events in {prefill.records:,} records pre-filled "
        f"in {prefill.seconds:.1f} s; starting one worker"
    )
    started = time.monotonic()
    worker = _worker(ctx, "worker-agg", prefix, partitions, group)
    livetally = measure_group(ctx, group, topic, prefill, [worker], started)
    counted = _stats_events(ctx, kafka.topic(STATS), prefill.events)
    _note_miscount(ctx, "aggregation worker", counted, prefill.events)
    rss = worker.rss_bytes()
    stack.stop(worker)
    results.set("aggregate_events_per_s", livetally.per_s, "no time measured")
    ctx.say(f"aggregation: worker {livetally.per_s or 0:,.0f} events/s; counted {counted:,}")

    bundled = _coalesced_rate(ctx, partitions, sizes.aggregate_events)

    limit = ctx.executor.submit(
        count_topic, stack.servers, topic, partitions, prefill.records
    ).result()
    limit_rate = limit.events / limit.seconds if limit.seconds > 0 else None
    results.set("limit_events_per_s", limit_rate, "the limit loop read nothing")
    ctx.say(f"aggregation: limit {limit_rate or 0:,.0f} events/s ({limit.events:,} events)")

    textbook = run_textbook(ctx, partitions)
    results.set("textbook_events_per_s", textbook.per_s, "no time measured")
    ctx.say(f"aggregation: textbook {textbook.per_s or 0:,.0f} events/s")

    peer = run_quix(ctx, topic, prefill)
    results.set("quix_events_per_s", peer.throughput.per_s, "no time measured")
    ctx.say(
        f"aggregation: Quix Streams {peer.throughput.per_s or 0:,.0f} events/s; "
        f"views and uniques {'exact' if peer.exact else 'NOT exact'}"
    )
    if not peer.exact:
        results.notes.append(
            "the Quix Streams app's views or uniques differ from the definition: "
            f"{peer.details['mismatches']}"
        )

    if livetally.per_s is not None and limit_rate:
        results.set("ratio_vs_limit", livetally.per_s / limit_rate)
    else:
        results.set("ratio_vs_limit", None, "a rate is missing")
    if livetally.per_s is not None and textbook.per_s:
        results.set("ratio_vs_textbook", livetally.per_s / textbook.per_s)
    else:
        results.set("ratio_vs_textbook", None, "a rate is missing")
    if livetally.per_s is not None and peer.throughput.per_s:
        results.set("ratio_vs_quix", livetally.per_s / peer.throughput.per_s)
    else:
        results.set("ratio_vs_quix", None, "a rate is missing")
    results.details["aggregation"] = {
        "partitions": partitions,
        "records_produced": prefill.records,
        "events_produced": prefill.events,
        "events_timed": livetally.events,
        "seconds": round(livetally.seconds, 3),
        "events_counted": counted,
        "worker_rss_mib": round(rss / 2**20, 1),
        "limit": {"records": limit.records, "events": limit.events, "seconds": limit.seconds},
        "textbook": {"events": textbook.events, "seconds": round(textbook.seconds, 3)},
        "quix": peer.details,
        "coalesced": bundled,
    }


def _coalesced_rate(ctx: Context, partitions: int, events: int) -> dict[str, float | int | None]:
    """One worker on the same events coalesced into bundles, as ingest writes them by
    default: far fewer records for the same events."""
    prefix, group = "bench.aggc.", "bench-aggc"
    kafka = ctx.stack.kafka(prefix, partitions)
    ensure_topics(kafka)
    topic = kafka.topic(EVENTS)
    prefill = prefill_events(ctx, topic, partitions, events, COALESCED_EVENTS)
    started = time.monotonic()
    worker = _worker(ctx, "worker-agg-coalesced", prefix, partitions, group)
    rate = measure_group(ctx, group, topic, prefill, [worker], started)
    counted = _stats_events(ctx, kafka.topic(STATS), prefill.events)
    _note_miscount(ctx, "aggregation worker on coalesced records", counted, prefill.events)
    ctx.stack.stop(worker)
    ctx.say(
        f"aggregation: worker on {prefill.records:,} coalesced records"
        f" ({prefill.events / max(prefill.records, 1):,.0f} events each)"
        f" {rate.per_s or 0:,.0f} events/s; counted {counted:,}"
    )
    if rate.per_s is not None:
        ctx.extra_rows.append(
            (
                f"Aggregation: worker on coalesced records (<= {COALESCED_EVENTS} events)",
                f"{rate.per_s:,.0f} events/s",
            )
        )
    return {
        "records": prefill.records,
        "events": prefill.events,
        "events_timed": rate.events,
        "seconds": round(rate.seconds, 3),
        "events_per_s": rate.per_s,
    }


def run_textbook(ctx: Context, partitions: int) -> Throughput:
    """The tutorial-style Faust app on its own one-record-per-event topic."""
    stack = ctx.stack
    topic = "bench.textbook.events"
    group = "bench-textbook"
    create_topic(stack.servers, topic, partitions)
    records = (
        ((None, key, value), 1)
        for batch in log_batches(ctx.log_path, ctx.config.sizes.textbook_events)
        for key, value in textbook_records(batch, 0)
    )
    prefill = produce(stack.servers, topic, records)
    ctx.say(f"aggregation: {prefill.events:,} one-event records for the textbook app")
    port = stack.ports.take()
    datadir = stack.root / "textbook"
    argv = [
        sys.executable,
        "-m",
        "livetally.bench.textbook",
        stack.settings.kafka.bootstrap,
        topic,
        group,
        str(port),
        str(datadir),
        str(partitions),
    ]
    started = time.monotonic()
    app = stack.spawn("textbook", argv, stack.base_env, f"http://127.0.0.1:{port}/healthz")
    stack.wait_healthy(app)
    try:
        return measure_group(ctx, group, topic, prefill, [app], started)
    finally:
        stack.stop(app)


@dataclass(frozen=True)
class PeerRun:
    """The Quix Streams app's run: its throughput, whether its totals were exact, details."""

    throughput: Throughput
    exact: bool
    details: dict[str, object]


def run_quix(ctx: Context, topic: str, prefill: Prefill) -> PeerRun:
    """The Quix Streams app on the worker's pre-filled ``topic``, in a group of its own."""
    from livetally.bench import quix  # not at the top: ``python -m`` runs it as __main__

    stack = ctx.stack
    run = uuid.uuid4().hex[:8]
    group = f"bench-quix-{run}"
    state_dir = tempfile.mkdtemp(prefix=f"quix-{run}-", dir=stack.root)
    port = stack.ports.take()
    health = f"http://127.0.0.1:{port}/healthz"
    argv = [sys.executable, "-m", "livetally.bench.quix"]
    argv += [stack.settings.kafka.bootstrap, topic, group, str(port), state_dir]
    inner: list[str] = []

    def repartition_topics() -> list[str]:
        inner.extend(sorted(n for n in _topics(ctx) if quix.is_repartition_topic(n, group)))
        if not inner:
            raise ProcessFailed(f"no repartition topic of {group}: the app would be timed early")
        return inner

    started = time.monotonic()
    app = stack.spawn("quix", argv, stack.base_env, health)
    try:
        stack.wait_healthy(app)
        through = measure_group(ctx, group, topic, prefill, [app], started, repartition_topics)
        reported = httpx.get(health, timeout=10).json()["totals"]
    finally:
        stack.stop(app)
    got = {partner: tuple(pair) for partner, pair in reported.items()}
    want = quix.exact_totals(log_batches(ctx.log_path, ctx.config.sizes.aggregate_events))
    mismatches = {
        partner: {"quix": got.get(partner), "exact": want.get(partner)}
        for partner in sorted(set(got) | set(want))
        if got.get(partner) != want.get(partner)
    }
    seconds_topic = f"{group}.seconds"
    details: dict[str, object] = {
        "events": through.events,
        "seconds": round(through.seconds, 3),
        "partners": len(got),
        "views": sum(views for views, _ in want.values()),
        "exact": not mismatches,
        "mismatches": mismatches,
        "second_rows": sum(end_offsets(stack.servers, seconds_topic).values()),
        "repartition_topics": inner,
    }
    return PeerRun(through, not mismatches, details)


def _topics(ctx: Context) -> set[str]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=ctx.stack.servers)
    try:
        return set(consumer.topics())
    finally:
        consumer.close()


def run_scale(ctx: Context) -> None:
    """Events/s with 1, 2 and 4 partitions, one worker per partition."""
    sizes = ctx.config.sizes
    cores = os.cpu_count() or 1
    rows: dict[str, object] = {}
    if not sizes.scale_workers:
        ctx.extra_rows.append(("Scale: 1 / 2 / 4 partitions and workers", "skipped in --quick"))
    for n in sizes.scale_workers:
        if n > cores:
            rows[str(n)] = {
                "events_per_s": None,
                "why": f"needs {n} cores, the machine has {cores}",
            }
            ctx.extra_rows.append((f"Scale: {n} partitions / {n} workers", f"n/a ({cores} cores)"))
            continue
        prefix, group = f"bench.scale{n}.", f"bench-scale{n}"
        kafka = ctx.stack.kafka(prefix, n)
        ensure_topics(kafka)
        topic = kafka.topic(EVENTS)
        workers: list[Service] = []
        try:
            if n == 1:
                prefill = prefill_events(ctx, topic, n, sizes.aggregate_events)
                started = time.monotonic()
                workers.append(_worker(ctx, "worker-scale1", prefix, n, group))
            else:
                # Join every worker before the fill, so no rebalance happens mid-run.
                for i in range(n):
                    workers.append(_worker(ctx, f"worker-scale{n}-{i}", prefix, n, group))
                _wait_members(ctx, group, n)
                started = time.monotonic()
                prefill = prefill_events(ctx, topic, n, sizes.aggregate_events)
            through = measure_group(ctx, group, topic, prefill, workers, started)
        finally:
            for worker in workers:
                ctx.stack.stop(worker)
        rows[str(n)] = {"events_per_s": through.per_s, "events": through.events}
        ctx.say(f"scale: {n} partition(s)/worker(s): {through.per_s or 0:,.0f} events/s")
        ctx.extra_rows.append(
            (f"Scale: {n} partitions / {n} workers", f"{through.per_s or 0:,.0f} events/s")
        )
    ctx.results.details["scale"] = rows


def _wait_members(ctx: Context, group: str, n: int, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if group_members(ctx.stack.servers, group) == n:
            return
        time.sleep(0.5)
    raise ProcessFailed(f"the {n} workers of {group} did not form a stable group")
