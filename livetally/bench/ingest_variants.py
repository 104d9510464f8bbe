"""Ingest throughput and latency over real HTTP into a real broker, 500-event batches.

Starts ``python -m livetally serve ingest`` once per variant (event loop, HTTP parser,
worker processes), on the same broker and in the same run, so the figures compare:

* throughput: ``--concurrency`` clients post back to back for ``--seconds``; events/s accepted;
* latency: requests scheduled open-loop at ``--rate`` events/s (one 500-event request every
  ``500 / rate`` s), latency measured from the scheduled start (no coordinated omission).

Run with a broker (and ideally the whole stack: ``livetally up``) at BOOTSTRAP:

    python -m livetally.bench.ingest_variants --bootstrap 127.0.0.1:37092 --port 37180
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass

import httpx
import orjson
import psutil

from contract.registry import Partner, Stream, hash_secret
from contract.registry_store import RegistryStore
from contract.settings import KafkaSettings
from contract.topics import ensure_topics

BATCH = 500
_UVLOOP = {"LIVETALLY_INGEST_LOOP": "auto", "LIVETALLY_INGEST_HTTP": "auto"}
_PLAIN = {"LIVETALLY_INGEST_LOOP": "asyncio", "LIVETALLY_INGEST_HTTP": "h11"}
VARIANTS: dict[str, dict[str, str]] = {
    # kafka-python without the crc32c package: its pure-Python CRC-32C.
    "py CRC, asyncio+h11, 1 proc": {"LIVETALLY_INGEST_WORKERS": "1", "PURE_CRC": "1", **_PLAIN},
    "C CRC, asyncio+h11, 1 proc": {"LIVETALLY_INGEST_WORKERS": "1", **_PLAIN},
    "C CRC, uvloop+httptools, 1 proc": {"LIVETALLY_INGEST_WORKERS": "1", **_UVLOOP},
    "C CRC, uvloop+httptools, 2 procs": {"LIVETALLY_INGEST_WORKERS": "2", **_UVLOOP},
}


def _without_c_crc() -> str:
    """A directory whose ``crc32c`` module fails to import, so kafka-python uses its own."""
    directory = tempfile.mkdtemp(prefix="bench-pure-crc-")
    with open(os.path.join(directory, "crc32c.py"), "w") as module:
        module.write('raise ImportError("disabled by the benchmark")\n')
    return directory


def body(seq: int, now: int) -> bytes:
    """A realistic batch: distinct sessions, viewers recurring across batches."""
    return orjson.dumps(
        {
            "events": [
                {
                    "type": "heartbeat",
                    "stream": "bench",
                    "ts": now,
                    "session_id": f"s-{seq}-{i}",
                    "viewer_id": f"v-{(seq * BATCH + i) % 20_000}",
                }
                for i in range(BATCH)
            ]
        }
    )


@dataclass
class Load:
    url: str
    key: str
    bodies: list[bytes]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children so far."""
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def throughput(load: Load, seconds: float, concurrency: int) -> tuple[float, int]:
    """Events/s accepted with ``concurrency`` clients posting back to back, and the count."""
    accepted = 0
    deadline = time.monotonic() + seconds
    started = time.monotonic()

    async def client_loop(n: int) -> None:
        nonlocal accepted
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            i = n
            while time.monotonic() < deadline:
                r = await client.post(
                    load.url, content=load.bodies[i % len(load.bodies)], headers=load.headers
                )
                if r.status_code != 202:
                    raise RuntimeError(f"{r.status_code}: {r.text[:300]}")
                accepted += r.json()["accepted"]
                i += concurrency

    await asyncio.gather(*(client_loop(n) for n in range(concurrency)))
    return accepted / (time.monotonic() - started), accepted


async def latency(load: Load, seconds: float, rate: float) -> tuple[float, float, float, int]:
    """(p50, p99, max) request latency in ms at ``rate`` events/s, and failures."""
    interval = BATCH / rate
    count = int(seconds / interval)
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        start = time.monotonic() + 0.2

        async def one(i: int) -> None:
            nonlocal failures
            scheduled = start + i * interval
            await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
            try:
                r = await client.post(
                    load.url, content=load.bodies[i % len(load.bodies)], headers=load.headers
                )
            except httpx.HTTPError:
                failures += 1
            else:
                failures += r.status_code != 202
            latencies.append((time.monotonic() - scheduled) * 1000)

        await asyncio.gather(*(one(i) for i in range(count)))
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return statistics.median(latencies), p99, latencies[-1], failures


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("ingest exited during start-up")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("ingest not ready")


def run_variant(name: str, extra_env: dict[str, str], args: argparse.Namespace, key: str) -> None:
    env = {
        **os.environ,
        "LIVETALLY_BOOTSTRAP": args.bootstrap,
        "LIVETALLY_INGEST_PORT": str(args.port),
        "LIVETALLY_HOME": tempfile.mkdtemp(prefix="bench-ingest-"),
        **extra_env,
    }
    if env.pop("PURE_CRC", None):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_without_c_crc(), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "livetally", "serve", "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_ready(base, proc)
        time.sleep(2.0)  # every worker process sees the bench partner in the registry
        now = time.time_ns() // 1_000_000
        load = Load(base + "/v1/events", key, [body(i, now) for i in range(40)])
        asyncio.run(throughput(load, 3, args.concurrency))  # warm-up
        cpu_before = cpu_seconds(proc.pid)
        rate, accepted = asyncio.run(throughput(load, args.seconds, args.concurrency))
        cpu_us = (cpu_seconds(proc.pid) - cpu_before) / max(1, accepted) * 1e6
        p50, p99, worst, failed = asyncio.run(latency(load, args.seconds, args.rate))
        print(
            f"{name:32s} {rate:8,.0f} events/s, ingest CPU {cpu_us:5.1f} µs/event "
            f"(= {1e6 / cpu_us:7,.0f} events per CPU-second) | at {args.rate:,.0f} events/s: "
            f"p50 {p50:7.1f} ms, p99 {p99:7.1f} ms, {failed} failed",
            flush=True,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:37092")
    parser.add_argument("--port", type=int, default=37180, help="port of the ingest under test")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=20_000.0, help="events/s for latency")
    parser.add_argument("--only", action="append", help="run only variants containing this")
    args = parser.parse_args()
    kafka = KafkaSettings(bootstrap=args.bootstrap)
    ensure_topics(kafka)
    key = "pk_bench_" + uuid.uuid4().hex
    store = RegistryStore(kafka)
    store.put(Stream("bench", "Bench"))
    store.put(Partner("bench", "Bench", rate=10_000_000, key_hash=hash_secret(key)))
    print(f"{BATCH}-event batches, {args.concurrency} clients, {args.seconds:g} s each", flush=True)
    for name, extra in VARIANTS.items():
        if args.only and not any(part in name for part in args.only):
            continue
        run_variant(name, extra, args, key)


if __name__ == "__main__":
    main()
