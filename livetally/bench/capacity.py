"""Part 9: the capacity of one box. Ingest, Kafka, the worker and the dashboard on this
machine, and an offered load of the carnival's traffic raised step by step.

Each step offers one rate for a fixed time while probe events follow the pipeline to the
summary API (as in the end-to-end part) and the worker's consumer lag is sampled. A step
is *sustained* when ingest accepted what was offered, the probes' p95 is at most 2 s and
the lag did not keep growing; the ramp stops at the first step that is not. The capacity
is the accepted rate of the highest sustained step.

The traffic is an event log of its own, at a larger audience scale than the other parts'
(``Sizes.capacity_scale``): joins, heartbeats and leaves of many sessions, with the
suite's share of reordered and retried batches. Each step goes on where the one before
it stopped; a ramp longer than the log takes it again from the start (then its events
are duplicates, which are counted as such: the details say how often that happened).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contract.topics import EVENTS
from livetally.bench.context import Context, Registration
from livetally.bench.endtoend import probe_summary, serve_whole_stack
from livetally.bench.eventlog import LogParams, iter_batches, write_log
from livetally.bench.kafkaio import OffsetWatch
from livetally.bench.loadgen import LoadSpec, OpenResult, open_loop, preload
from livetally.bench.stats import summarize_ms
from livetally.demo.audience import AudienceParams
from livetally.demo.carnival import STREAM

__all__ = [
    "ACCEPTED_SHARE",
    "P95_LIMIT_MS",
    "Step",
    "audience_at",
    "capacity",
    "lag_keeps_growing",
    "midpoint",
    "run_capacity",
]

PREFIX = "bench.capacity."
APP_ID = "bench-capacity"
P95_LIMIT_MS = 2000.0
"""A step whose probes' p95 is above this is not sustained."""
ACCEPTED_SHARE = 0.95
"""A step is sustained only if ingest accepted at least this share of the offered events."""
LAG_WINDOW_S = 60.0
"""The lag must not keep growing over (at most) this much of the end of a step."""
LAG_SLACK_S = 2.0
"""Lag growth smaller than this many seconds of records is noise (commits are periodic)."""
SAMPLE_S = 2.0
"""Time between two readings of lag and of the processes' CPU time."""
SETTLE_S = 5.0
"""How long probes of a step may still become visible after it ends."""
_BENCH = "bench (probes, lag)"


def lag_keeps_growing(
    samples: Sequence[tuple[float, int]], records_per_s: float, window_s: float = LAG_WINDOW_S
) -> bool:
    """Whether the consumer lag ``(seconds, records behind)`` grew over the last
    ``window_s`` of the samples: its least-squares slope is positive and it rose by more
    than ``LAG_SLACK_S`` seconds' worth of records. Fewer than three samples: no."""
    if len(samples) < 3:
        return False
    end = samples[-1][0]
    window = [(t, lag) for t, lag in samples if t >= end - window_s]
    if len(window) < 3:
        window = list(samples[-3:])
    n = len(window)
    mean_t = sum(t for t, _ in window) / n
    mean_lag = sum(lag for _, lag in window) / n
    spread = sum((t - mean_t) ** 2 for t, _ in window)
    if spread == 0:
        return False
    slope = sum((t - mean_t) * (lag - mean_lag) for t, lag in window) / spread
    rise = slope * (window[-1][0] - window[0][0])
    return slope > 0 and rise > LAG_SLACK_S * max(records_per_s, 1.0)


@dataclass(frozen=True)
class Step:
    """What one step of the ramp offered and what came of it."""

    offered: int
    """Events/s offered."""
    accepted_per_s: float
    p95_ms: float | None
    """Probes' p95 from 202 to visible in the summary API (unseen probes count as lower
    bounds); None if no probe was accepted."""
    lag: tuple[tuple[float, int], ...] = ()
    """(seconds into the step, records the worker had not committed)."""
    records_per_s: float = 0.0
    """Records the events topic got per second during the step."""
    failed_requests: int = 0
    send_lag_s: float = 0.0
    """How far the load generator fell behind its schedule at worst (it is on the same
    box: past a second, what was offered is less than the step says)."""
    cores: Mapping[str, float] = field(default_factory=dict)
    """Process → CPU time used per second of the step (1.0 = one core)."""
    rss_mib: Mapping[str, float] = field(default_factory=dict)
    """Process → resident memory at the end of the step."""

    @property
    def lag_growing(self) -> bool:
        """Whether the worker fell further behind during the step."""
        return lag_keeps_growing(self.lag, self.records_per_s)

    @property
    def sustained(self) -> bool:
        """Offered load accepted, p95 within the limit, lag not growing."""
        return (
            self.accepted_per_s >= ACCEPTED_SHARE * self.offered
            and self.p95_ms is not None
            and self.p95_ms <= P95_LIMIT_MS
            and not self.lag_growing
        )

    def why_not(self) -> str:
        """Why the step was not sustained ("" if it was)."""
        reasons = []
        if self.accepted_per_s < ACCEPTED_SHARE * self.offered:
            reasons.append(f"ingest accepted {self.accepted_per_s:,.0f} of {self.offered:,}/s")
        if self.p95_ms is None:
            reasons.append("no probe was accepted")
        elif self.p95_ms > P95_LIMIT_MS:
            reasons.append(f"end-to-end p95 {self.p95_ms:,.0f} ms > {P95_LIMIT_MS:,.0f} ms")
        if self.lag_growing:
            reasons.append(f"the worker's lag kept growing (to {self.lag[-1][1]:,} records)")
        if reasons and self.send_lag_s > 1.0:
            reasons.append(f"the load generator fell {self.send_lag_s:.1f} s behind")
        return "; ".join(reasons)


def midpoint(good: int, bad: int) -> int | None:
    """The rate halfway between a sustained step and a failed one, to the nearest 1,000
    (to 100 under 10,000); None when that is within 5 % of either, or no lower than
    ``good``."""
    unit = 1000 if bad >= 10_000 else 100
    middle = round((good + bad) / 2 / unit) * unit
    if middle - good < 0.05 * bad or bad - middle < 0.05 * bad:
        return None
    return middle


def capacity(steps: Iterable[Step]) -> Step | None:
    """The highest sustained step of a ramp (by accepted rate), if any."""
    sustained = [s for s in steps if s.sustained]
    return max(sustained, key=lambda s: s.accepted_per_s, default=None)


def audience_at(events_per_s: float, heartbeat_s: int) -> int:
    """Concurrent viewers whose heartbeats alone make ``events_per_s`` (each online viewer
    sends one per ``heartbeat_s``; joins and leaves are a small share on top)."""
    return int(events_per_s * heartbeat_s)


class _Usage:
    """CPU time and memory of a set of processes between readings: each with its
    children, but for the names in ``alone`` (the bench itself, whose children are the
    services measured apart)."""

    def __init__(self, pids: Mapping[str, int], alone: Iterable[str] = ()) -> None:
        import psutil

        self._procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._alone = set(alone)
        self._start = self._cpu()
        self._started = time.monotonic()

    def _tree(self, name: str) -> list[Any]:
        import psutil

        proc = self._procs[name]
        if name in self._alone:
            return [proc]
        with contextlib.suppress(psutil.Error):
            return [proc, *proc.children(recursive=True)]
        return []

    def _cpu(self) -> dict[str, float]:
        import psutil

        out: dict[str, float] = {}
        for name in self._procs:
            total = 0.0
            for proc in self._tree(name):
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    total += times.user + times.system
            out[name] = total
        return out

    def cores(self) -> dict[str, float]:
        """CPU seconds per second of each process since this reading began."""
        elapsed = max(time.monotonic() - self._started, 1e-9)
        now = self._cpu()
        return {name: round((now[name] - self._start[name]) / elapsed, 2) for name in now}

    def rss_mib(self) -> dict[str, float]:
        """Resident memory of each process now."""
        import psutil

        out: dict[str, float] = {}
        for name in self._procs:
            total = 0
            for proc in self._tree(name):
                with contextlib.suppress(psutil.Error):
                    total += int(proc.memory_info().rss)
            out[name] = round(total / 2**20, 1)
        return out


def _lag(watch: OffsetWatch) -> tuple[int, int] | None:
    """(records behind, end offsets summed) of the worker's group now; None if unknown."""
    ends = watch.ends()
    committed = None if not ends else watch.committed(ends)
    if ends is None or committed is None:
        return None
    behind = sum(max(0, end - committed.get(p, 0)) for p, end in ends.items())
    return behind, sum(ends.values())


def run_capacity(ctx: Context) -> None:
    """Ramp the offered rate over the whole stack until a step is not sustained."""
    import os

    from livetally import kafka_cluster

    sizes = ctx.config.sizes
    stack = ctx.stack
    for service in list(stack.services):
        stack.stop(service)  # the other parts' processes would take their share of the box
    log_path = ctx.log_path.with_name("capacity.log")
    ctx.say(f"capacity: writing an event log at audience scale {sizes.capacity_scale:g}")
    params = LogParams(scale=sizes.capacity_scale, seed=ctx.config.seed)
    batches, events = write_log(log_path, iter_batches(params), ctx.base_ms)
    whole = serve_whole_stack(ctx, PREFIX, "capacity")
    spec = LoadSpec(url=whole.ingest_url, keys=whole.reg.keys, log_path=str(log_path))
    topic = stack.kafka(PREFIX).topic(EVENTS)
    services = {s.name.removesuffix("-capacity"): s.pid for s in stack.services}
    pids = {k: v for k, v in services.items() if k in ("worker", "ingest", "dashboard")}
    for node, pid in kafka_cluster.node_pids(stack.settings).items():
        pids[f"kafka-{node}"] = pid
    pids[_BENCH] = os.getpid()
    ctx.executor.submit(preload, spec).result()  # the log is read once, before the ramp
    summary_url = f"{whole.dashboard_url}/api/v1/streams/{STREAM.id}/summary"
    watch = OffsetWatch(stack.servers, APP_ID, topic)
    steps: list[Step] = []
    first = 0
    rates = list(sizes.capacity_steps)
    refined = False
    try:
        while rates:
            rate = rates.pop(0)
            ctx.say(f"capacity: offering {rate:,} events/s for {sizes.capacity_step_s:g} s")
            step, sent = _step(ctx, spec, whole.reg, summary_url, watch, pids, rate, first)
            first += sent
            steps.append(step)
            ctx.say(
                f"capacity: {rate:,}/s offered, {step.accepted_per_s:,.0f}/s accepted, "
                f"p95 {step.p95_ms or 0:,.0f} ms, lag {step.lag[-1][1] if step.lag else 0:,}"
                + ("" if step.sustained else f": not sustained ({step.why_not()})")
            )
            if not step.sustained:
                # Once: a step halfway between the highest good one and this one.
                good = max((s.offered for s in steps if s.sustained), default=0)
                between = None if refined else midpoint(good, rate)
                rates, refined = ([] if between is None else [between]), True
    finally:
        watch.close()
    best = capacity(steps)
    heartbeat_s = AudienceParams().heartbeat_s
    if best is None:
        ctx.results.set(
            "capacity_events_per_s",
            None,
            f"no step was sustained (the first: {steps[0].why_not()})" if steps else "no step ran",
        )
    else:
        ctx.results.set("capacity_events_per_s", best.accepted_per_s)
    if steps and steps[-1].sustained:
        ctx.results.notes.append(
            "capacity: every step of the ramp was sustained; the box carries at least the "
            "highest one (the ramp did not reach its limit)"
        )
    log_batches = max(batches, 1)
    ctx.results.details["capacity"] = {
        "log": {"scale": params.scale, "events": events, "batches": batches},
        "log_passes": round(first / log_batches, 2),
        "step_s": sizes.capacity_step_s,
        "p95_limit_ms": P95_LIMIT_MS,
        "heartbeat_s": heartbeat_s,
        "audience_at_capacity": (
            None if best is None else audience_at(best.accepted_per_s, heartbeat_s)
        ),
        "steps": [_step_json(s) for s in steps],
    }
    if best is not None:
        ctx.extra_rows.append(
            (
                "Capacity: per-process cores at the highest sustained step",
                ", ".join(f"{k} {v:.2f}" for k, v in best.cores.items()),
            )
        )


def _step(
    ctx: Context,
    spec: LoadSpec,
    reg: Registration,
    summary_url: str,
    watch: OffsetWatch,
    pids: Mapping[str, int],
    rate: int,
    first: int,
) -> tuple[Step, int]:
    """One step of the ramp; returns it and the batches it sent."""
    import threading

    seconds = ctx.config.sizes.capacity_step_s
    usage = _Usage(pids, alone=(_BENCH,))
    load = ctx.executor.submit(open_loop, spec, rate, seconds, first)
    lag: list[tuple[float, int]] = []
    ends: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        started = time.monotonic()
        while not stop.is_set():
            reading = _lag(watch)
            if reading is not None:
                at = time.monotonic() - started
                lag.append((at, reading[0]))
                ends.append((at, reading[1]))
            stop.wait(SAMPLE_S)

    sampler = threading.Thread(target=sample, name="capacity-lag", daemon=True)
    sampler.start()
    try:
        probes = probe_summary(
            spec.url,
            reg.probe_key,
            summary_url,
            reg.token,
            ctx.config.sizes.probe_interval_s,
            seconds=seconds,
            settle_s=SETTLE_S,
        )
        paced: OpenResult = load.result()
    finally:
        stop.set()
        sampler.join(timeout=30)
    records_per_s = 0.0
    if len(ends) >= 2 and ends[-1][0] > ends[0][0]:
        records_per_s = (ends[-1][1] - ends[0][1]) / (ends[-1][0] - ends[0][0])
    ms = summarize_ms(probes.latencies())
    step = Step(
        offered=rate,
        accepted_per_s=paced.accepted / paced.seconds if paced.seconds else 0.0,
        p95_ms=ms["p95"],
        lag=tuple(lag),
        records_per_s=records_per_s,
        failed_requests=paced.failed,
        send_lag_s=paced.max_send_lag_s,
        cores={
            **usage.cores(),
            "load generator": round(paced.cpu_s / paced.seconds, 2) if paced.seconds else 0.0,
        },
        rss_mib=usage.rss_mib(),
    )
    return step, paced.batches


def _step_json(step: Step) -> dict[str, Any]:
    return {
        "offered_events_per_s": step.offered,
        "accepted_events_per_s": round(step.accepted_per_s, 1),
        "p95_ms": step.p95_ms,
        "sustained": step.sustained,
        "why_not": step.why_not(),
        "failed_requests": step.failed_requests,
        "generator_behind_s": round(step.send_lag_s, 2),
        "records_per_s": round(step.records_per_s, 1),
        "lag_records_end": step.lag[-1][1] if step.lag else None,
        "lag_records_max": max((lag for _, lag in step.lag), default=None),
        "cores": dict(step.cores),
        "rss_mib": dict(step.rss_mib),
    }
