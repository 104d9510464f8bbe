"""Settings of the benchmark suite: run sizes, ports, and the environment of its processes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from contract.settings import read_int

__all__ = ["FULL", "QUICK", "BenchConfig", "Sizes"]

# Variables the bench sets itself for every process of its own stack.
_OWNED = (
    "LIVETALLY_HOME",
    "LIVETALLY_BOOTSTRAP",
    "LIVETALLY_KAFKA_PORT",
    "LIVETALLY_INGEST_PORT",
    "LIVETALLY_DASHBOARD_PORT",
    "LIVETALLY_PUBLIC_PORT",
    "LIVETALLY_WORKER_PORT",
    "LIVETALLY_TOPIC_PREFIX",
    "LIVETALLY_PARTITIONS",
    "LIVETALLY_STREAM_APP_ID",
)


@dataclass(frozen=True)
class Sizes:
    """How much each part of the suite does."""

    log_scale: float
    """Audience scale of the event log (1 = the real evening, ~112 M events)."""
    ingest_seconds: float
    """Length of the closed-loop ingest throughput run."""
    ingest_clients: int
    """Concurrent HTTP connections of the throughput run."""
    latency_rate: int
    """Offered load (events/s) of the ingest latency run and of the end-to-end run."""
    latency_seconds: float
    """Length of the ingest latency run."""
    aggregate_events: int
    """Events pre-filled for the aggregation runs (taken from the start of the log)."""
    textbook_events: int
    """Events pre-filled for the textbook Faust app (one record each)."""
    e2e_seconds: float
    """Length of the end-to-end run."""
    probe_interval_s: float
    """Time between two end-to-end probe events."""
    scale_workers: tuple[int, ...]
    """Partition/worker counts of the scale runs."""
    memory_sessions: tuple[int, ...]
    """Session counts at which the worker's RSS is read."""
    dashboard_requests: int
    """Requests timed per dashboard route."""
    attack_starts: int = 200_000
    """Heartbeats of the one attacking session (1 ms apart) in the adversarial part."""
    attack_leaves: int = 1_000
    """Out-of-order leaves the attacking session sends after its heartbeats."""
    attack_reports: int = 200_000
    """Reports (1 ms apart) of the attacking reports-mode partner."""
    attack_tail_s: float = 20.0
    """How long the reports attack then goes on with a report every 0.25 s."""
    worst_events: int = 1_000
    """Events of each worst pattern timed in process (leaves, late heartbeats, drains)."""
    viewer_steps: tuple[int, ...] = (10, 50, 100, 200, 300)
    """Live-page viewers of each step of the dashboard capacity run."""
    viewer_step_s: float = 20.0
    """Length of each step."""
    viewer_load_rate: int = 2_000
    """Events/s ingest takes during the capacity run, so that every second's numbers move."""
    counter_steps: tuple[int, ...] = (8, 32, 128)
    """Keep-alive connections of each step of the public counter run."""
    counter_step_s: float = 10.0
    """Length of each step."""
    capacity_scale: float = 0.12
    """Audience scale of the capacity part's own event log (~14 M events)."""
    capacity_steps: tuple[int, ...] = (20_000, 40_000, 60_000, 80_000, 100_000, 120_000)
    """Offered events/s of each step of the capacity ramp."""
    capacity_step_s: float = 60.0
    """Length of each step (the lag must not keep growing over it)."""


FULL = Sizes(
    log_scale=0.011,
    ingest_seconds=20.0,
    ingest_clients=8,
    latency_rate=20_000,
    latency_seconds=20.0,
    aggregate_events=1_000_000,
    textbook_events=150_000,
    e2e_seconds=60.0,
    probe_interval_s=0.1,
    scale_workers=(1, 2, 4),
    memory_sessions=(100_000, 1_000_000, 10_000_000),
    dashboard_requests=20,
)
"""``livetally bench``: the figures the targets are stated for."""

QUICK = Sizes(
    log_scale=0.001,
    ingest_seconds=3.0,
    ingest_clients=4,
    latency_rate=2_000,
    latency_seconds=3.0,
    aggregate_events=60_000,
    textbook_events=5_000,
    e2e_seconds=8.0,
    probe_interval_s=0.2,
    scale_workers=(),
    memory_sessions=(100_000,),
    dashboard_requests=5,
    attack_starts=20_000,
    attack_leaves=100,
    attack_reports=20_000,
    attack_tail_s=3.0,
    worst_events=100,
    viewer_steps=(5, 20),
    viewer_step_s=5.0,
    viewer_load_rate=500,
    counter_steps=(4, 16),
    counter_step_s=2.0,
    capacity_scale=0.001,
    capacity_steps=(1_000, 2_000),
    capacity_step_s=6.0,
)
"""``livetally bench --quick``: a smoke run of the whole pipeline in under three minutes."""


@dataclass(frozen=True)
class BenchConfig:
    """Everything the suite needs, read once from the environment."""

    sizes: Sizes = FULL
    """Run sizes."""
    quick: bool = False
    """True for the ``--quick`` smoke run."""
    seed: int = 20241221
    """Seed of the event log (``LIVETALLY_BENCH_SEED``): the same seed, the same events."""
    base_port: int | None = None
    """First of 40 consecutive ports to use (``LIVETALLY_BENCH_PORT``); else free ones."""
    keep: bool = False
    """Keep the temporary directory with the logs (``LIVETALLY_BENCH_KEEP=1``)."""
    child_env: Mapping[str, str] = field(default_factory=dict)
    """Environment of the processes the suite starts, without livetally's own variables."""
    parts: tuple[str, ...] = ()
    """Run only these parts (``LIVETALLY_BENCH_PARTS=scale,memory``); all when empty."""
    ingest_workers: int = 2
    """Ingest server processes in the ingest part (``LIVETALLY_BENCH_INGEST_WORKERS``): 2,
    one per core here; docs/deploy.md compares its figures with the default of 1."""

    @classmethod
    def from_env(cls, *, quick: bool, environ: Mapping[str, str] | None = None) -> BenchConfig:
        """Read the configuration from ``LIVETALLY_BENCH_*`` variables."""
        env = os.environ if environ is None else environ
        raw_port = read_int(env, "LIVETALLY_BENCH_PORT", 0)
        ingest_workers = read_int(env, "LIVETALLY_BENCH_INGEST_WORKERS", 2)
        if not 1 <= ingest_workers <= 16:
            raise ValueError(f"LIVETALLY_BENCH_INGEST_WORKERS must be 1-16, got {ingest_workers}")
        if raw_port and not 1024 <= raw_port <= 65535 - 40:
            raise ValueError(f"LIVETALLY_BENCH_PORT must be 1024-65495, got {raw_port}")
        return cls(
            sizes=QUICK if quick else FULL,
            quick=quick,
            seed=read_int(env, "LIVETALLY_BENCH_SEED", 20241221),
            base_port=raw_port or None,
            keep=env.get("LIVETALLY_BENCH_KEEP", "") not in ("", "0"),
            child_env={k: v for k, v in env.items() if k not in _OWNED},
            parts=tuple(
                p.strip() for p in env.get("LIVETALLY_BENCH_PARTS", "").split(",") if p.strip()
            ),
            ingest_workers=ingest_workers,
        )
