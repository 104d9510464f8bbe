"""How ingest packs the events topic: records per partition per second and events per record.

The worker pays Faust's cost once per record, so for the same events fewer, larger records
are cheaper to count. ``record_figures`` reads the records a topic got in a time window
(by their create time) and counts them and their events. Run as a module, it starts its own
broker and ingest, posts the suite's event log from keep-alive connections back to back,
and prints the figures of that run; with ``--worker`` a stream worker then counts the whole
topic, timed from its first commit to its last (``worker_rate``):

    python -m livetally.bench.records --seconds 20 --clients 8 --ingest-workers 2 --worker
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from contract.records import RecordError, decode_batches

if TYPE_CHECKING:
    from kafka import KafkaConsumer, TopicPartition

    from livetally.bench.stack import BenchStack

__all__ = ["RecordFigures", "WorkerRate", "events_before", "events_in_record", "record_figures"]


@dataclass(frozen=True)
class RecordFigures:
    """The records one topic got in a time window."""

    seconds: float
    """Length of the window."""
    records: dict[int, int]
    """Partition → records created in the window (every partition of the topic)."""
    events: dict[int, int]
    """Partition → events in those records."""
    unreadable: int = 0
    """Records in the window that are not packed events (not counted above)."""
    largest: int = 0
    """Most events in one record."""

    @property
    def total_records(self) -> int:
        """Records in the window, over every partition."""
        return sum(self.records.values())

    @property
    def total_events(self) -> int:
        """Events in the window's records, over every partition."""
        return sum(self.events.values())

    @property
    def records_per_s_per_partition(self) -> float | None:
        """Records per second, averaged over the topic's partitions."""
        if self.seconds <= 0 or not self.records:
            return None
        return self.total_records / self.seconds / len(self.records)

    @property
    def events_per_record(self) -> float | None:
        """Mean events per record."""
        return self.total_events / self.total_records if self.total_records else None

    def as_json(self) -> dict[str, object]:
        """The figures as plain values."""
        per_s = self.records_per_s_per_partition
        per_record = self.events_per_record
        return {
            "seconds": round(self.seconds, 3),
            "records": self.total_records,
            "events": self.total_events,
            "records_per_s_per_partition": None if per_s is None else round(per_s, 1),
            "events_per_record": None if per_record is None else round(per_record, 1),
            "largest_record_events": self.largest,
            "unreadable_records": self.unreadable,
            "records_by_partition": {str(p): n for p, n in sorted(self.records.items())},
        }


def events_in_record(value: bytes | None) -> int | None:
    """Events packed in one events-topic record, or None if it is not a packed record."""
    try:
        return sum(len(batch.events) for batch in decode_batches(value))
    except RecordError:
        return None


def _assign_all(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    """Assign every partition of ``topic`` to ``consumer``; the partitions, in order."""
    from kafka import TopicPartition

    found = consumer.partitions_for_topic(topic)
    if not found:
        raise ValueError(f"topic {topic} does not exist")
    parts = [TopicPartition(topic, p) for p in sorted(found)]
    consumer.assign(parts)
    return parts


def record_figures(
    servers: Sequence[str], topic: str, start_ms: int, end_ms: int, **client_options: object
) -> RecordFigures:
    """Count the records of ``topic`` created in ``[start_ms, end_ms)`` and their events.

    ``client_options`` go to the ``KafkaConsumer`` (a login, say). The create time is the
    producer's clock when it took the record, so the window is the run's wall-clock time.
    """
    if end_ms <= start_ms:
        raise ValueError("the window must end after it starts")
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        bootstrap_servers=list(servers),
        enable_auto_commit=False,
        group_id=None,
        **client_options,
    )
    records: dict[int, int] = {}
    events: dict[int, int] = {}
    unreadable = largest = 0
    try:
        parts = _assign_all(consumer, topic)
        ends = consumer.end_offsets(parts)
        firsts = consumer.offsets_for_times(dict.fromkeys(parts, start_ms))
        stops = consumer.offsets_for_times(dict.fromkeys(parts, end_ms))
        todo: dict[TopicPartition, int] = {}
        for tp in parts:
            records[tp.partition] = events[tp.partition] = 0
            first, stop = firsts[tp], stops[tp]
            begin = ends[tp] if first is None else first.offset
            until = ends[tp] if stop is None else stop.offset
            if begin < until:
                consumer.seek(tp, begin)
                todo[tp] = until
            else:
                consumer.pause(tp)
        while todo:
            for tp, batch in consumer.poll(timeout_ms=1000, max_records=2000).items():
                until = todo.get(tp)
                if until is None:
                    continue
                for record in batch:
                    if record.offset >= until:
                        break
                    if not start_ms <= record.timestamp < end_ms:
                        continue
                    count = events_in_record(record.value)
                    if count is None:
                        unreadable += 1
                        continue
                    records[tp.partition] += 1
                    events[tp.partition] += count
                    largest = max(largest, count)
                if consumer.position(tp) >= until:
                    del todo[tp]
                    consumer.pause(tp)
    finally:
        consumer.close()
    return RecordFigures(
        seconds=(end_ms - start_ms) / 1000,
        records=records,
        events=events,
        unreadable=unreadable,
        largest=largest,
    )


def events_before(servers: Sequence[str], topic: str) -> dict[int, list[int]]:
    """Partition → events in the records before each offset of ``topic`` as it is now
    (index = offset, so the list is one longer than the partition)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=list(servers), enable_auto_commit=False)
    try:
        parts = _assign_all(consumer, topic)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        cumulative = {tp.partition: [0] for tp in parts}
        todo = {tp for tp in parts if ends[tp] > 0}
        while todo:
            for tp, batch in consumer.poll(timeout_ms=1000, max_records=2000).items():
                counts = cumulative[tp.partition]
                for record in batch:
                    if record.offset >= ends[tp]:
                        break
                    counts.append(counts[-1] + (events_in_record(record.value) or 0))
                if consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
                    consumer.pause(tp)
    finally:
        consumer.close()
    return cumulative


@dataclass(frozen=True)
class WorkerRate:
    """How fast one stream worker counted a topic ingest wrote."""

    events: int
    """Events in the records between the worker's first commit and the topic's end."""
    seconds: float
    """From that first commit to the commit of the topic's end."""

    @property
    def per_s(self) -> float | None:
        """Events counted per second."""
        return self.events / self.seconds if self.seconds > 0 else None


def worker_rate(stack: BenchStack, prefix: str, group: str) -> WorkerRate:
    """Start a worker on ``prefix``'s topics and time it through the events topic."""
    from contract.topics import EVENTS
    from livetally.bench.kafkaio import OffsetWatch, end_offsets

    topic = stack.kafka(prefix).topic(EVENTS)
    ends = end_offsets(stack.servers, topic)
    cumulative = events_before(stack.servers, topic)
    worker = stack.serve(
        "worker", "worker-records", stack.env(prefix, LIVETALLY_STREAM_APP_ID=group)
    )
    watch = OffsetWatch(stack.servers, group, topic)
    try:
        progress = watch.wait_done(ends, timeout_s=900, alive=lambda: worker.proc.poll() is None)
    finally:
        watch.close()
        stack.stop(worker)
    if progress.first_at is None or progress.done_at is None or progress.first_offsets is None:
        raise RuntimeError(f"the worker did not get through {topic}:\n{worker.tail()}")
    first = progress.first_offsets
    events = sum(
        counts[min(ends.get(p, 0), len(counts) - 1)] - counts[min(first.get(p, 0), len(counts) - 1)]
        for p, counts in cumulative.items()
    )
    return WorkerRate(events, progress.done_at - progress.first_at)


@dataclass
class _Run:
    accepted: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)


def _run(args: argparse.Namespace, root: Path) -> tuple[_Run, RecordFigures, WorkerRate | None]:
    from contract.topics import EVENTS
    from livetally.bench.context import register
    from livetally.bench.eventlog import LogParams, iter_batches, write_log
    from livetally.bench.loadgen import LoadSpec, closed_loop, warm_up
    from livetally.bench.stack import BenchStack, PortPlan
    from livetally.demo.carnival import DURATION_S
    from livetally.demo.replay import wait_ready

    stack = BenchStack(root=root, ports=PortPlan(None), base_env=dict(os.environ))
    prefix = "bench.records."
    try:
        stack.start_kafka()
        reg = register(stack, prefix)
        base_ms = time.time_ns() // 1_000_000 - DURATION_S * 1000 - 600_000
        log_path = root / "events.log"
        write_log(log_path, iter_batches(LogParams(scale=args.scale)), base_ms)
        extra = {"LIVETALLY_INGEST_WORKERS": str(args.ingest_workers)}
        for item in args.env:
            name, _, value = item.partition("=")
            extra[name] = value
        ingest = stack.serve("ingest", "ingest", {**stack.env(prefix), **extra})
        base_url = ingest.health_url.removesuffix("/healthz")
        wait_ready(base_url)
        spec = LoadSpec(url=base_url, keys=reg.keys, log_path=str(log_path), full_only=True)
        warm_up(spec)
        run = _Run(load_before=os.getloadavg())
        start_ms = time.time_ns() // 1_000_000
        done = closed_loop(spec, args.seconds, args.clients)
        end_ms = time.time_ns() // 1_000_000
        run.load_after = os.getloadavg()
        run.accepted, run.seconds, run.statuses = done.accepted, done.seconds, done.statuses
        stack.stop(ingest)  # every record is flushed and acknowledged
        figures = record_figures(stack.servers, stack.kafka(prefix).topic(EVENTS), start_ms, end_ms)
        counted = worker_rate(stack, prefix, "bench-records") if args.worker else None
        return run, figures, counted
    finally:
        stack.close()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the load once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--ingest-workers", type=int, default=2)
    parser.add_argument("--scale", type=float, default=0.003, help="audience scale of the log")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="for the ingest process"
    )
    parser.add_argument(
        "--worker", action="store_true", help="then time a stream worker through the topic"
    )
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="livetally-records-"))
    try:
        run, figures, counted = _run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    per_s = figures.records_per_s_per_partition or 0.0
    per_record = figures.events_per_record or 0.0
    print(
        f"{args.clients} connections, {args.ingest_workers} ingest processes, "
        f"{run.seconds:.1f} s: {run.accepted / run.seconds:,.0f} events/s accepted "
        f"(statuses {run.statuses})\n"
        f"records/s per partition {per_s:,.1f}; events per record {per_record:,.1f} "
        f"(largest {figures.largest:,}); records {figures.total_records:,}, "
        f"events {figures.total_events:,} by partition {figures.records}\n"
        f"load average before {run.load_before[0]:.2f}, after {run.load_after[0]:.2f}",
        file=sys.stdout,
    )
    if counted is not None:
        print(
            f"worker: {counted.per_s or 0:,.0f} events/s ({counted.events:,} events in "
            f"{counted.seconds:.1f} s, first to last commit); load average "
            f"{os.getloadavg()[0]:.2f}",
            file=sys.stdout,
        )


if __name__ == "__main__":
    main()
