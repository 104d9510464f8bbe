"""How many live-page viewers one dashboard process holds.

Each simulated viewer is what a browser on the live page does: it signs in once, then,
every second, sends the page's three interval callbacks (numbers, charts, alerts) to
``/_dash-update-component`` with the values a browser would send, keeping the stores the
answers return (the numbers' signature, the charts' drawn state, the alerts' version) as
``dcc.Store`` does. The callbacks are read from the app's own ``/_dash-dependencies``.

Viewers are added in steps; at each step the offered callbacks per second, those answered
and their latencies are measured. The capacity is the largest step whose p95 is at most
``P95_LIMIT_MS`` with at least ``SERVED_MIN`` of the offered callbacks answered within the
step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from livetally.bench.context import Context
from livetally.bench.endtoend import serve_whole_stack
from livetally.bench.loadgen import Conn, open_loop
from livetally.bench.stats import percentile
from livetally.demo.carnival import STREAM

__all__ = [
    "P95_LIMIT_MS",
    "SERVED_MIN",
    "Step",
    "capacity",
    "live_callbacks",
    "measure_viewers",
    "run_viewers",
]

PREFIX = "bench.viewers."
P95_LIMIT_MS = 1000.0
SERVED_MIN = 0.95
_STORES = ("live-signature", "live-chart-version", "live-alerts-version")


@dataclass(frozen=True)
class Callback:
    """One of the live page's interval callbacks, as the browser sends it."""

    output: str
    outputs: Any
    inputs: list[dict[str, str]]
    state: list[dict[str, str]]
    store: str
    """The ``dcc.Store`` id among its outputs whose data the browser keeps."""


@dataclass
class Step:
    """What one number of viewers got."""

    viewers: int
    seconds: float
    offered: int = 0
    answered: int = 0
    failed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """The first few unexpected answers, for the report."""

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.latencies_ms, 95)

    @property
    def served(self) -> float:
        return self.answered / self.offered if self.offered else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "viewers": self.viewers,
            "seconds": round(self.seconds, 1),
            "offered_per_s": round(self.offered / self.seconds, 1),
            "answered_per_s": round(self.answered / self.seconds, 1),
            "failed": self.failed,
            "errors": self.errors,
            "p50_ms": percentile(self.latencies_ms, 50),
            "p95_ms": self.p95_ms,
            "p99_ms": percentile(self.latencies_ms, 99),
        }


def _outputs(output: str) -> Any:
    multi = output.startswith("..")
    parts = output[2:-2].split("...") if multi else [output]
    listed = []
    for part in parts:
        ident, prop = part.split("@")[0].rsplit(".", 1)
        listed.append({"id": ident, "property": prop})
    return listed if multi else listed[0]


def live_callbacks(dependencies: Sequence[dict[str, Any]]) -> list[Callback]:
    """The live page's interval callbacks among the app's dependencies."""
    found = []
    for dep in dependencies:
        if dep.get("clientside_function"):
            continue
        output = dep["output"]
        store = next((s for s in _STORES if f"{s}.data" in output), None)
        if store is None or not any(i["id"] == "app-interval" for i in dep["inputs"]):
            continue
        found.append(
            Callback(
                output=output,
                outputs=_outputs(output),
                inputs=[{"id": i["id"], "property": i["property"]} for i in dep["inputs"]],
                state=[{"id": s["id"], "property": s["property"]} for s in dep["state"]],
                store=store,
            )
        )
    if len(found) != len(_STORES):
        raise RuntimeError(f"expected the live page's {len(_STORES)} interval callbacks")
    return found


class _Viewer:
    def __init__(self, base_url: str, cookie: str, stream: str, callbacks: list[Callback]):
        parts = urlsplit(base_url)
        # What a browser sends: its session cookie, and Dash posts from the page's origin.
        self.headers = f"Cookie: {cookie}\r\nOrigin: {base_url.rstrip('/')}\r\n"
        # One connection per callback, as a browser keeps several to one site.
        self.conns = {
            c.store: Conn(parts.hostname or "127.0.0.1", parts.port or 80) for c in callbacks
        }
        self.busy: set[str] = set()
        self.callbacks = callbacks
        self.values: dict[str, Any] = {
            "app-interval.n_intervals": 0,
            "app-stream.data": stream,
            "app-lang.data": "zh",
            "live-chart-mode.value": "lines",
        }

    def body(self, callback: Callback) -> bytes:
        def filled(items: list[dict[str, str]]) -> list[dict[str, Any]]:
            return [
                {**item, "value": self.values.get(f"{item['id']}.{item['property']}")}
                for item in items
            ]

        return orjson.dumps(
            {
                "output": callback.output,
                "outputs": callback.outputs,
                "inputs": filled(callback.inputs),
                "state": filled(callback.state),
                "changedPropIds": ["app-interval.n_intervals"],
            }
        )

    async def fire(self, callback: Callback, step: Step) -> None:
        started = time.perf_counter()
        self.busy.add(callback.store)
        try:
            status, payload = await self.conns[callback.store].post(
                "/_dash-update-component", self.body(callback), self.headers
            )
        except asyncio.CancelledError:
            await self.conns[callback.store].close()  # its answer would come next
            raise
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            step.failed += 1
            if len(step.errors) < 5:
                step.errors.append(f"{type(exc).__name__}: {exc}")
            await self.conns[callback.store].close()
            return
        finally:
            self.busy.discard(callback.store)
        if status == 200:
            doc = orjson.loads(payload)
            kept = doc.get("response", {}).get(callback.store, {})
            if "data" in kept:
                self.values[f"{callback.store}.data"] = kept["data"]
        elif status != 204:  # 204: PreventUpdate, nothing changed
            step.failed += 1
            if len(step.errors) < 5:
                step.errors.append(f"{status} {payload[:200]!r}")
            return
        step.answered += 1
        step.latencies_ms.append((time.perf_counter() - started) * 1000)

    async def run(self, step: Step, until: float, phase: float) -> None:
        await asyncio.sleep(phase)
        tasks: set[asyncio.Task[None]] = set()
        next_tick = time.monotonic()
        while next_tick < until:
            self.values["app-interval.n_intervals"] += 1
            for callback in self.callbacks:
                step.offered += 1
                if callback.store in self.busy:
                    continue  # the last one is still unanswered: offered, not served
                task = asyncio.create_task(self.fire(callback, step))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            next_tick += 1.0
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
        # Answers still outstanding at the end of the step do not count as served.
        pending = list(tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        for conn in self.conns.values():
            await conn.close()


async def _signed_in(base_url: str, token: str) -> str:
    """Sign in as a browser does; the ``Cookie`` header value of the session."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        response = await client.get(f"/?token={token}")
        if response.status_code != 303:
            raise RuntimeError(f"sign-in answered {response.status_code}: {response.text[:200]}")
        await client.get("/_dash-layout")
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


async def _measure(
    base_url: str, token: str, stream: str, steps: Sequence[int], seconds: float
) -> list[Step]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as probe:
        await probe.get(f"/?token={token}")
        callbacks = live_callbacks((await probe.get("/_dash-dependencies")).json())
    results: list[Step] = []
    viewers: list[_Viewer] = []
    try:
        for count in steps:
            while len(viewers) < count:
                cookie = await _signed_in(base_url, token)
                viewers.append(_Viewer(base_url, cookie, stream, callbacks))
            step = Step(viewers=count, seconds=seconds)
            until = time.monotonic() + seconds
            await asyncio.gather(
                *(v.run(step, until, phase=i / count) for i, v in enumerate(viewers))
            )
            results.append(step)
            await asyncio.sleep(2.0)  # let the last answers drain before the next step
            if (step.p95_ms or 0) > 5 * P95_LIMIT_MS:
                break  # far past capacity: more viewers only measure a queue
    finally:
        for viewer in viewers:
            await viewer.close()
    return results


def measure_viewers(
    base_url: str, token: str, stream: str, steps: Sequence[int], seconds: float
) -> list[Step]:
    """Run each step of viewers against the dashboard at ``base_url`` for ``seconds``."""
    return asyncio.run(_measure(base_url, token, stream, steps, seconds))


def capacity(steps: Sequence[Step]) -> int | None:
    """The most viewers of a step that met the p95 and served limits (None if none did)."""
    good = [
        s.viewers
        for s in steps
        if s.p95_ms is not None and s.p95_ms <= P95_LIMIT_MS and s.served >= SERVED_MIN
    ]
    return max(good) if good else None


def run_viewers(ctx: Context) -> None:
    """The dashboard's live-page capacity, with the stack counting a steady load."""
    sizes = ctx.config.sizes
    whole = serve_whole_stack(ctx, PREFIX, "viewers")
    seconds = len(sizes.viewer_steps) * (sizes.viewer_step_s + 6) + 10
    ctx.say(
        f"dashboard viewers: steps {list(sizes.viewer_steps)} of {sizes.viewer_step_s:g} s, "
        f"ingest taking {sizes.viewer_load_rate:,} events/s"
    )
    load = ctx.executor.submit(open_loop, whole.spec, sizes.viewer_load_rate, seconds)
    time.sleep(3.0)  # the first numbers reach the dashboard
    try:
        steps = measure_viewers(
            whole.dashboard_url, whole.reg.token, STREAM.id, sizes.viewer_steps, sizes.viewer_step_s
        )
    finally:
        load.result()
    found = capacity(steps)
    ctx.results.set(
        "dashboard_viewers_p95_1s",
        found,
        f"no step had p95 <= {P95_LIMIT_MS:g} ms with {SERVED_MIN:.0%} of callbacks answered",
    )
    ctx.results.details["viewers"] = {
        "steps": [s.as_json() for s in steps],
        "p95_limit_ms": P95_LIMIT_MS,
        "served_min": SERVED_MIN,
        "dashboard_rss_mib": round(whole.dashboard.rss_bytes() / 2**20, 1),
    }
    for s in steps:
        ctx.say(
            f"  {s.viewers:>4} viewers: {s.answered / s.seconds:6.1f} of "
            f"{s.offered / s.seconds:6.1f} callbacks/s answered, p95 {s.p95_ms} ms"
        )
