"""Part 1: ingest throughput (closed loop) and request latency at a fixed offered load.

Measured twice in one run: first with the whole stack up — the stream worker counting
everything ingest writes, and the dashboard — which is the condition of the targets and
gives the headline figures; then with only Kafka and ingest up (ingest's own
figure). Before each open-loop run the worker has counted the closed loop's backlog, so
the latency is that of a stack keeping up with 20,000 events/s, not of one catching up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contract.topics import EVENTS
from livetally.bench.context import Context, register
from livetally.bench.kafkaio import OffsetWatch, end_offsets
from livetally.bench.loadgen import (
    ClosedResult,
    LoadSpec,
    OpenResult,
    closed_loop,
    open_loop,
    warm_up,
)
from livetally.bench.stack import Service
from livetally.bench.stats import percentile
from livetally.demo.replay import wait_ready
from livetally.exceptions import ProcessFailed

if TYPE_CHECKING:
    from livetally.bench.records import RecordFigures

__all__ = ["run_ingest"]

PREFIX = "bench.ingest."
GROUP = "bench-ingest"
DRAIN_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class _Measured:
    closed: ClosedResult
    paced: OpenResult
    rate: int
    records: RecordFigures
    """The events-topic records the closed loop made."""

    @property
    def per_s(self) -> float | None:
        return self.closed.accepted / self.closed.seconds if self.closed.seconds else None

    def ms(self, q: float) -> float | None:
        return percentile([s * 1000 for s in self.paced.latencies_s], q)

    def details(self, clients: int) -> dict[str, Any]:
        done, paced = self.closed, self.paced
        return {
            "clients": clients,
            "seconds": round(done.seconds, 2),
            "requests": done.requests,
            "accepted": done.accepted,
            "failed": done.failed,
            "stale_retries": done.stale_retries,
            "statuses": {str(k): v for k, v in done.statuses.items()},
            "records": self.records.as_json(),
            "latency": {
                "offered_events_per_s": self.rate,
                "seconds": round(paced.seconds, 2),
                "requests": paced.requests,
                "accepted": paced.accepted,
                "failed": paced.failed,
                "stale_retries": paced.stale_retries,
                "p50_ms": self.ms(50),
                "p99_ms": self.ms(99),
                "max_send_lag_ms": round(paced.max_send_lag_s * 1000, 1),
            },
        }


def _measure(
    ctx: Context, ingest: Service, spec: LoadSpec, label: str, worker: Service | None = None
) -> _Measured:
    sizes = ctx.config.sizes
    if ctx.executor.submit(warm_up, spec).result() == 0:
        raise ProcessFailed(f"ingest refused the warm-up batches:\n{ingest.tail()}")
    ctx.say(
        f"ingest ({label}): {sizes.ingest_clients} clients, as fast as they go, "
        f"{sizes.ingest_seconds:g} s"
    )
    start_ms = time.time_ns() // 1_000_000
    closed = ctx.executor.submit(closed_loop, spec, sizes.ingest_seconds, sizes.ingest_clients)
    done = closed.result()
    end_ms = time.time_ns() // 1_000_000
    ctx.say(
        f"ingest ({label}): {done.accepted:,} events in {done.seconds:.1f} s, "
        f"statuses {done.statuses}"
    )
    # Not at the top: ``python -m livetally.bench.records`` runs that module as __main__.
    from livetally.bench.records import record_figures

    topic = ctx.stack.kafka(PREFIX).topic(EVENTS)
    records = record_figures(ctx.stack.servers, topic, start_ms, end_ms)
    ctx.say(
        f"ingest ({label}): {records.total_records:,} records, "
        f"{_rate(records.records_per_s_per_partition)} per partition per second, "
        f"{records.events_per_record or 0:,.1f} events per record"
    )
    if worker is not None:
        _wait_counted(ctx, worker)
    rate = sizes.latency_rate
    ctx.say(f"ingest ({label}): open loop at {rate:,} events/s for {sizes.latency_seconds:g} s")
    paced = ctx.executor.submit(open_loop, spec, rate, sizes.latency_seconds).result()
    return _Measured(done, paced, rate, records)


def _wait_counted(ctx: Context, worker: Service) -> None:
    """Until the worker has committed every record written so far."""
    servers = ctx.stack.servers
    topic = ctx.stack.kafka(PREFIX).topic(EVENTS)
    started = time.monotonic()
    watch = OffsetWatch(servers, GROUP, topic)
    try:
        progress = watch.wait_done(
            end_offsets(servers, topic),
            timeout_s=DRAIN_TIMEOUT_S,
            alive=lambda: worker.proc.poll() is None,
        )
    finally:
        watch.close()
    if progress.done_at is None:
        raise ProcessFailed(f"the worker did not count the backlog:\n{worker.tail()}")
    took = time.monotonic() - started
    ctx.say(f"ingest (whole stack): the worker counted the backlog in {took:.1f} s")


def run_ingest(ctx: Context) -> None:
    """Ingest with the worker and the dashboard up on the same topics, then alone."""
    sizes = ctx.config.sizes
    results = ctx.results
    stack = ctx.stack
    reg = register(stack, PREFIX)
    workers = ctx.config.ingest_workers
    env = stack.env(PREFIX, LIVETALLY_STREAM_APP_ID=GROUP)
    worker = stack.serve("worker", "worker-ingest", env)
    dashboard = stack.serve("dashboard", "dashboard-ingest", env)
    ingest = stack.serve("ingest", "ingest", {**env, "LIVETALLY_INGEST_WORKERS": str(workers)})
    base_url = ingest.health_url.removesuffix("/healthz")
    wait_ready(base_url)
    spec = LoadSpec(url=base_url, keys=reg.keys, log_path=str(ctx.log_path), full_only=True)
    whole = _measure(ctx, ingest, spec, "whole stack", worker)
    stack.stop(dashboard)
    stack.stop(worker)
    alone = _measure(ctx, ingest, spec, "alone")

    results.set("ingest_events_per_s", whole.per_s)
    results.set(
        "records_per_s_per_partition",
        whole.records.records_per_s_per_partition,
        "no record was written in the closed loop",
    )
    if whole.rate == 20_000:
        results.set("ingest_p99_ms_at_20k", whole.ms(99), "no request was answered")
    else:
        results.set(
            "ingest_p99_ms_at_20k", None, f"--quick offers {whole.rate:,} events/s, not 20,000"
        )
    results.details["ingest"] = {
        "ingest_processes": workers,
        **whole.details(sizes.ingest_clients),
        "alone": alone.details(sizes.ingest_clients),
    }
    for label, measured in (("whole stack", whole), ("ingest alone", alone)):
        ctx.extra_rows.append(
            (
                f"Ingest ({label}, {workers} processes): events/s; "
                f"p50 / p99 at {measured.rate:,} events/s",
                f"{_rate(measured.per_s)}; {_ms(measured.ms(50))} / {_ms(measured.ms(99))}",
            )
        )
        per_record = measured.records.events_per_record
        ctx.extra_rows.append(
            (
                f"Ingest ({label}): records/s per partition; events per record",
                f"{_rate(measured.records.records_per_s_per_partition)}; "
                f"{'n/a' if per_record is None else f'{per_record:,.1f}'}",
            )
        )
    stack.stop(ingest)


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} ms"
