"""Runs the whole suite on its own stack and reports the table and the JSON."""

from __future__ import annotations

import logging
import multiprocessing
import os
import platform
import shutil
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import orjson

from contract.settings import Settings
from livetally.bench.adversarial import run_adversarial
from livetally.bench.aggregate import run_aggregation, run_scale
from livetally.bench.capacity import run_capacity
from livetally.bench.config import BenchConfig
from livetally.bench.context import Context
from livetally.bench.endtoend import run_end_to_end
from livetally.bench.eventlog import LogParams, iter_batches, write_log
from livetally.bench.ingest_run import run_ingest
from livetally.bench.memory import run_memory
from livetally.bench.public import run_public
from livetally.bench.report import Results, format_table, parse_cpu_model
from livetally.bench.stack import BenchStack, PortPlan
from livetally.bench.viewers import run_viewers
from livetally.demo.carnival import DURATION_S
from livetally.exceptions import LivetallyError

__all__ = ["PARTS", "machine_info", "run_bench", "run_suite", "select_parts"]

logger = logging.getLogger(__name__)

Part = tuple[str, Callable[[Context], None], tuple[str, ...]]

PARTS: tuple[Part, ...] = (
    (
        "ingest",
        run_ingest,
        ("ingest_events_per_s", "ingest_p99_ms_at_20k", "records_per_s_per_partition"),
    ),
    (
        "aggregation",
        run_aggregation,
        (
            "aggregate_events_per_s",
            "limit_events_per_s",
            "textbook_events_per_s",
            "quix_events_per_s",
            "ratio_vs_limit",
            "ratio_vs_textbook",
            "ratio_vs_quix",
        ),
    ),
    ("scale", run_scale, ()),
    ("e2e", run_end_to_end, ("e2e_p50_ms_at_20k", "e2e_p95_ms_at_20k", "e2e_p99_ms_at_20k")),
    (
        "memory",
        run_memory,
        (
            "rss_mib_100k_sessions",
            "rss_mib_1m_sessions",
            "rss_mib_10m_sessions",
            "restore_s_10m_sessions",
        ),
    ),
    ("adversarial", run_adversarial, ("worst_cost_ratio", "adversarial_stall_ms")),
    ("viewers", run_viewers, ("dashboard_viewers_p95_1s",)),
    ("public", run_public, ("public_requests_per_s", "public_p99_ms")),
    ("capacity", run_capacity, ("capacity_events_per_s",)),
)
"""The parts of the suite in the order they run, with the figures each one fills."""


def machine_info() -> dict[str, object]:
    """Cores, CPU model, load average, Python: printed with every result."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        cpuinfo = ""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "cores": os.cpu_count(),
        "cpu_model": parse_cpu_model(cpuinfo) if cpuinfo else platform.processor() or "unknown",
        "load_average": load,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def run_suite(
    config: BenchConfig, root: Path, parts: Sequence[Part] = PARTS
) -> tuple[Results, list[tuple[str, str]], list[str]]:
    """Start the stack under ``root``, run ``parts``, stop everything; return what was found."""
    results = Results(quick=config.quick)
    results.machine = machine_info()
    results.date = datetime.now(UTC).isoformat(timespec="seconds")
    results.command = "livetally bench" + (" --quick" if config.quick else "")
    stack = BenchStack(root=root, ports=PortPlan(config.base_port), base_env=config.child_env)
    failures: list[str] = []
    executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    base_ms = time.time_ns() // 1_000_000 - DURATION_S * 1000 - 600_000
    ctx = Context(
        config=config,
        stack=stack,
        results=results,
        executor=executor,
        log_path=root / "events.log",
        base_ms=base_ms,
    )
    try:
        ctx.say(f"starting Apache Kafka on 127.0.0.1:{stack.ports.kafka} under {root}")
        stack.start_kafka()
        ctx.say("Kafka is up; writing the event log")
        params = LogParams(scale=config.sizes.log_scale, seed=config.seed)
        batches, events = write_log(ctx.log_path, iter_batches(params), base_ms)
        ctx.log_events = events
        results.details["log"] = {
            "seed": config.seed,
            "scale": params.scale,
            "batches": batches,
            "events": events,
            "reorder_share": params.reorder_share,
            "duplicate_share": params.duplicate_share,
        }
        ctx.say(f"event log: {events:,} events in {batches:,} batches (seed {config.seed})")
        for name, part, keys in parts:
            try:
                part(ctx)
            except Exception as exc:  # noqa: BLE001 - report it and go on with the others
                failures.append(name)
                logger.debug("part %s failed", name, exc_info=True)
                ctx.say(f"{name} FAILED: {exc}\n{traceback.format_exc()}")
                results.fail(keys, f"the {name} part failed: {str(exc).splitlines()[0][:200]}")
                for service in list(stack.services):
                    stack.stop(service)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        stack.close()
    results.machine["load_average_after"] = machine_info()["load_average"]
    results.details["failed_parts"] = failures
    ran = {name for name, _, _ in parts}
    for name, _, keys in PARTS:
        if name not in ran:
            results.fail(keys, f"the {name} part was not selected (LIVETALLY_BENCH_PARTS)")
    results.details["wall_seconds"] = round(time.monotonic() - ctx.started, 1)
    return results, ctx.extra_rows, failures


def select_parts(names: Sequence[str]) -> tuple[Part, ...]:
    """The parts named (all of them for none); ``LivetallyError`` for an unknown name."""
    if not names:
        return PARTS
    known = {name for name, _, _ in PARTS}
    unknown = sorted(set(names) - known)
    if unknown:
        raise LivetallyError(
            f"unknown bench part(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}"
        )
    chosen = tuple(part for part in PARTS if part[0] in names)
    return chosen


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def run_bench(settings: Settings, *, quick: bool, json_path: str | None) -> int:
    """``livetally bench``: 0 when every part ran (whatever the figures), 1 otherwise.

    ``settings`` is not used for ports or topics: the suite runs its own broker and
    processes under a temporary directory so it never touches a running livetally.
    """
    config = BenchConfig.from_env(quick=quick)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM unwinds like Ctrl-C, so the broker and services are still stopped.
        signal.signal(signal.SIGTERM, _terminate)
    for noisy in ("contract.topics", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for noisy in ("kafka", "aiokafka"):  # the offset watch polls groups still forming
        logging.getLogger(noisy).setLevel(logging.ERROR)
    root = Path(tempfile.mkdtemp(prefix="livetally-bench-"))
    try:
        results, extra_rows, failures = run_suite(config, root, select_parts(config.parts))
    finally:
        if config.keep:
            print(f"logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(format_table(results, extra_rows))
    if json_path:
        Path(json_path).write_bytes(orjson.dumps(results.as_json(), option=orjson.OPT_INDENT_2))
        print(f"\nJSON written to {json_path}")
    if failures:
        print(f"\nparts that failed: {', '.join(failures)}")
        return 1
    return 0
