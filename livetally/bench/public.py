"""The public live counter under load: requests/s a news site's readers get, and their p99.

A closed loop of keep-alive HTTP/1.1 connections (raw asyncio streams, so that the client
costs little next to the server) asks the dashboard's public port for the counter of a
public token, while ingest takes a steady load so the numbers move every second. Each
step adds connections; the figure is the highest rate of a step whose p99 stayed within
``P99_LIMIT_MS``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from contract.registry import Token, hash_secret, new_secret
from contract.registry_actions import TOKEN_PREFIX
from contract.settings import Settings
from livetally.bench.context import Context
from livetally.bench.endtoend import serve_whole_stack
from livetally.bench.loadgen import open_loop
from livetally.demo.carnival import STREAM

__all__ = ["P99_LIMIT_MS", "CounterStep", "measure_counter", "run_public"]

PREFIX = "bench-public."
P99_LIMIT_MS = 50.0
"""The p99 a step must keep to count (the counter's target)."""
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


@dataclass
class CounterStep:
    """One step: its connections, the answers by status and their latencies."""

    connections: int
    seconds: float
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def requests_per_s(self) -> float:
        """Answers per second."""
        return len(self.latencies_ms) / self.seconds

    @property
    def p99_ms(self) -> float | None:
        """The 99th percentile latency (None without answers)."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)

    def as_json(self) -> dict[str, Any]:
        """The step for the JSON report."""
        return {
            "connections": self.connections,
            "requests_per_s": round(self.requests_per_s, 1),
            "p99_ms": self.p99_ms,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors,
        }


async def _connection(host: str, port: int, target: str, until: float, step: CounterStep) -> None:
    request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.monotonic() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = _LENGTH.search(head)
            if length is not None and int(length.group(1)):
                await reader.readexactly(int(length.group(1)))
            step.latencies_ms.append((time.perf_counter() - started) * 1000)
            status = int(head[9:12])
            step.statuses[status] = step.statuses.get(status, 0) + 1
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        step.errors += 1
    finally:
        writer.close()


async def _measure(url: str, steps: Sequence[int], seconds: float) -> list[CounterStep]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = f"{parts.path}?{parts.query}"
    done: list[CounterStep] = []
    for connections in steps:
        step = CounterStep(connections, seconds)
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(_connection(host, port, target, until, step) for _ in range(connections))
        )
        done.append(step)
        await asyncio.sleep(1.0)
    return done


def measure_counter(url: str, steps: Sequence[int], seconds: float) -> list[CounterStep]:
    """Run each step of ``steps`` keep-alive connections against ``url`` for ``seconds``."""
    return asyncio.run(_measure(url, steps, seconds))


def best(steps: Sequence[CounterStep]) -> CounterStep | None:
    """The fastest step whose p99 met the limit with only 200 answers and no errors."""
    good = [
        s
        for s in steps
        if s.p99_ms is not None
        and s.p99_ms <= P99_LIMIT_MS
        and not s.errors
        and set(s.statuses) == {200}
    ]
    return max(good, key=lambda s: s.requests_per_s, default=None)


def run_public(ctx: Context) -> None:
    """The public counter's throughput at p99 <= 50 ms, with ingest taking a steady load."""
    sizes = ctx.config.sizes
    whole = serve_whole_stack(ctx, PREFIX, "public")
    secret = new_secret(TOKEN_PREFIX)
    from livetally import registry_topic

    settings = Settings(home=ctx.stack.settings.home, kafka=ctx.stack.kafka(PREFIX, 4))
    registry_topic.register(
        settings,
        Token("news", "public", "bench", public_hash=hash_secret(secret), streams=(STREAM.id,)),
    )
    url = f"{whole.dashboard.public_url}/api/v1/public/live?token={secret}"
    deadline = time.monotonic() + 30
    while measure_counter(url, (1,), 0.2)[0].statuses.get(200, 0) == 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the public counter never answered 200:\n{whole.dashboard.tail()}")
        time.sleep(0.5)
    steps_count = sizes.counter_steps
    seconds = len(steps_count) * (sizes.counter_step_s + 1) + 5
    ctx.say(
        f"public counter: steps of {list(steps_count)} connections, "
        f"{sizes.counter_step_s:g} s each, ingest taking {sizes.viewer_load_rate:,} events/s"
    )
    load = ctx.executor.submit(open_loop, whole.spec, sizes.viewer_load_rate, seconds)
    try:
        steps = measure_counter(url, steps_count, sizes.counter_step_s)
    finally:
        load.result()
    found = best(steps)
    ctx.results.set(
        "public_requests_per_s",
        None if found is None else round(found.requests_per_s, 1),
        f"no step kept p99 <= {P99_LIMIT_MS:g} ms with only 200 answers",
    )
    ctx.results.set(
        "public_p99_ms",
        None if found is None else found.p99_ms,
        "no step met the limit",
    )
    ctx.results.details["public"] = {
        "steps": [s.as_json() for s in steps],
        "p99_limit_ms": P99_LIMIT_MS,
        "dashboard_rss_mib": round(whole.dashboard.rss_bytes() / 2**20, 1),
    }
    for s in steps:
        ctx.say(
            f"  {s.connections:>4} connections: {s.requests_per_s:8,.0f} requests/s, "
            f"p99 {s.p99_ms} ms, errors {s.errors}"
        )
