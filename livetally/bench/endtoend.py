"""Parts 3 and 5: event accepted → visible on the dashboard, and dashboard response times."""

from __future__ import annotations

import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from livetally.bench.context import PROBE_PARTNER, Context, Registration, register
from livetally.bench.loadgen import LoadSpec, open_loop, warm_up
from livetally.bench.stack import Service
from livetally.bench.stats import percentile, summarize_ms
from livetally.demo.carnival import DURATION_S, STREAM
from livetally.demo.replay import wait_ready
from livetally.exceptions import ProcessFailed

__all__ = [
    "ProbeResult",
    "partner_figures",
    "pipeline_latency",
    "probe_summary",
    "run_end_to_end",
]

PREFIX = "bench.e2e."
POLL_S = 0.05


@dataclass
class ProbeResult:
    """Per probe event: when ingest accepted it, its ts, when the summary API showed it."""

    accepted_at: list[float] = field(default_factory=list)
    ts_ms: list[int] = field(default_factory=list)
    visible_at: list[float | None] = field(default_factory=list)
    refused: int = 0
    ended_at: float = 0.0
    """When watching stopped; a probe not seen by then waited at least until this."""

    def latencies(self) -> list[float]:
        """Seconds from 202 to visible; a probe never seen counts until ``ended_at``.

        Counting the unseen ones as a lower bound keeps a backlog from hiding in the
        percentiles (leaving them out would report only the lucky probes).
        """
        return [
            (seen if seen is not None else self.ended_at) - accepted
            for accepted, seen in zip(self.accepted_at, self.visible_at, strict=True)
        ]

    @property
    def unseen(self) -> int:
        """Probes the summary API never showed."""
        return sum(1 for seen in self.visible_at if seen is None)


def partner_figures(client: httpx.Client, summary_url: str, partner: str) -> dict[str, Any] | None:
    """One partner's figures in the summary now: {} if it has none yet, None if the
    summary did not answer."""
    try:
        figures = client.get(summary_url).json().get("platforms", {}).get(partner, {})
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return figures if isinstance(figures, dict) else None


def _probe_views(client: httpx.Client, summary_url: str) -> int | None:
    """The probe partner's views in the summary now (None if it did not answer)."""
    figures = partner_figures(client, summary_url, PROBE_PARTNER)
    if figures is None:
        return None
    try:
        return int(figures.get("views", 0))
    except (TypeError, ValueError):
        return None


def pipeline_latency(accepted_at: float, ts_ms: int, visible_at: float) -> float:
    """Latency that excludes waiting for the event's own second to begin.

    The dashboard shows the figures of the current whole second, and an event at
    ``ts`` first counts in the second ``ceil(ts)``; before that instant no pipeline could
    show it.
    """
    earliest = max(accepted_at, math.ceil(ts_ms / 1000))
    return max(0.0, visible_at - earliest)


def probe_summary(
    ingest_url: str,
    key: str,
    summary_url: str,
    token: str,
    interval_s: float,
    *,
    seconds: float | None = None,
    until: threading.Event | None = None,
    settle_s: float,
) -> ProbeResult:
    """Post a probe join every ``interval_s`` for ``seconds`` (or until ``until`` is set)
    and note when the summary API shows each; then wait up to ``settle_s`` for the rest."""
    result = ProbeResult()
    lock = threading.Lock()
    stop = threading.Event()

    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=5, headers=auth) as client:
        # Probes of an earlier run on the same topics are already among the views.
        already = _probe_views(client, summary_url)
    if already is None:
        raise ProcessFailed(f"the summary API at {summary_url} did not answer")

    def poll() -> None:
        seen = 0
        with httpx.Client(timeout=5, headers=auth) as client:
            while not stop.is_set():
                counted = _probe_views(client, summary_url)
                views = seen if counted is None else counted - already
                now = time.time()
                with lock:
                    while seen < min(views, len(result.visible_at)):
                        if result.visible_at[seen] is None:
                            result.visible_at[seen] = now
                        seen += 1
                stop.wait(POLL_S)

    poller = threading.Thread(target=poll, name="probe-poll", daemon=True)
    poller.start()
    run = secrets.token_hex(4)  # sessions of another run on the same topics stay apart
    headers = {"Authorization": f"Bearer {key}"}
    started = time.monotonic()
    with httpx.Client(timeout=10, headers=headers) as client:
        n = 0
        while (seconds is None or time.monotonic() - started < seconds) and not (
            until is not None and until.is_set()
        ):
            ts = time.time_ns() // 1_000_000
            probe = {"type": "join", "stream": STREAM.id, "ts": ts, "session_id": f"p-{run}-{n}"}
            body = {"events": [probe]}
            try:
                status = client.post(f"{ingest_url}/v1/events", json=body).status_code
            except httpx.HTTPError:
                status = 0
            if status == 202:
                with lock:
                    result.accepted_at.append(time.time())
                    result.ts_ms.append(ts)
                    result.visible_at.append(None)
            else:
                result.refused += 1
            n += 1
            time.sleep(max(0.0, started + n * interval_s - time.monotonic()))
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline:
        with lock:
            if all(v is not None for v in result.visible_at):
                break
        time.sleep(0.2)
    stop.set()
    poller.join(timeout=10)
    result.ended_at = time.time()
    return result


@dataclass(frozen=True)
class WholeStack:
    """Worker, ingest and dashboard serving one isolated set of topics, warmed up."""

    reg: Registration
    spec: LoadSpec
    ingest_url: str
    dashboard_url: str
    dashboard: Service


def serve_whole_stack(ctx: Context, prefix: str, name: str) -> WholeStack:
    """Register the carnival's partners on ``prefix``'s topics, start the three services
    (``worker-<name>``, ...) and post a few warm-up batches through ingest."""
    stack = ctx.stack
    reg = register(stack, prefix)
    env = stack.env(prefix, 4, LIVETALLY_STREAM_APP_ID=f"bench-{name}")
    stack.serve("worker", f"worker-{name}", env)
    ingest = stack.serve("ingest", f"ingest-{name}", env)
    dashboard = stack.serve("dashboard", f"dashboard-{name}", env)
    ingest_url = ingest.health_url.removesuffix("/healthz")
    wait_ready(ingest_url)
    spec = LoadSpec(url=ingest_url, keys=reg.keys, log_path=str(ctx.log_path))
    if ctx.executor.submit(warm_up, spec).result() == 0:
        raise ProcessFailed(f"ingest refused the warm-up batches:\n{ingest.tail()}")
    dashboard_url = dashboard.health_url.removesuffix("/healthz")
    return WholeStack(reg, spec, ingest_url, dashboard_url, dashboard)


def run_end_to_end(ctx: Context) -> None:
    """The whole pipeline under a sustained offered load, followed by probe events."""
    sizes = ctx.config.sizes
    results = ctx.results
    whole = serve_whole_stack(ctx, PREFIX, "e2e")
    reg, spec, ingest_url, dashboard_url = (
        whole.reg,
        whole.spec,
        whole.ingest_url,
        whole.dashboard_url,
    )
    rate = sizes.latency_rate
    ctx.say(f"end to end: {rate:,} events/s for {sizes.e2e_seconds:g} s, probing the summary API")
    load = ctx.executor.submit(open_loop, spec, rate, sizes.e2e_seconds)
    summary_url = f"{dashboard_url}/api/v1/streams/{STREAM.id}/summary"
    probes = probe_summary(
        ingest_url,
        reg.probe_key,
        summary_url,
        reg.token,
        sizes.probe_interval_s,
        seconds=sizes.e2e_seconds,
        settle_s=max(20.0, sizes.e2e_seconds),
    )
    paced = load.result()
    latencies = probes.latencies()
    ms = summarize_ms(latencies)
    pipeline = summarize_ms(
        [
            pipeline_latency(a, t, probes.ended_at if v is None else v)
            for a, t, v in zip(probes.accepted_at, probes.ts_ms, probes.visible_at, strict=True)
        ]
    )
    achieved = paced.accepted / paced.seconds if paced.seconds else 0.0
    if rate == 20_000:
        for q in ("50", "95", "99"):
            results.set(f"e2e_p{q}_ms_at_20k", ms[f"p{q}"], "no probe was accepted")
        if probes.unseen:
            results.notes.append(
                f"e2e: {probes.unseen} of {len(probes.accepted_at)} probes were not visible "
                "when watching stopped; they count as lower bounds (the percentiles are >=)"
            )
    else:
        why = f"--quick offers {rate:,} events/s, not 20,000 (see details.e2e)"
        for q in ("50", "95", "99"):
            results.set(f"e2e_p{q}_ms_at_20k", None, why)
    results.details["e2e"] = {
        "offered_events_per_s": rate,
        "accepted_events_per_s": round(achieved, 1),
        "seconds": round(paced.seconds, 2),
        "load_requests": paced.requests,
        "load_failed": paced.failed,
        "load_stale_retries": paced.stale_retries,
        "load_p99_ms": percentile([s * 1000 for s in paced.latencies_s], 99),
        "probes": len(probes.accepted_at),
        "probes_visible": len(probes.accepted_at) - probes.unseen,
        "probes_refused": probes.refused,
        "latency_ms": ms,
        "pipeline_latency_ms": pipeline,
    }
    ctx.say(
        f"end to end: {len(probes.accepted_at) - probes.unseen}/{len(probes.accepted_at)} "
        f"probes seen, p50 {_ms(ms['p50'])} p95 {_ms(ms['p95'])}; "
        f"load accepted {achieved:,.0f} events/s"
    )
    ctx.extra_rows.append(
        (f"End to end: load accepted (offered {rate:,}/s)", f"{achieved:,.0f} events/s")
    )
    ctx.extra_rows.append(
        ("End to end: p95 less the wait for the event's second", _ms(pipeline["p95"]))
    )
    time_dashboard(ctx, dashboard_url, reg.token)


def _timed_get(client: httpx.Client, url: str, n: int) -> tuple[list[float], httpx.Response]:
    times: list[float] = []
    response = client.get(url)
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
    return times, response


def time_dashboard(ctx: Context, dashboard_url: str, token: str) -> None:
    """Response times of the summary API and of a 3-hour 1-minute CSV export."""
    n = ctx.config.sizes.dashboard_requests
    api = f"{dashboard_url}/api/v1/streams/{STREAM.id}"
    start, end = ctx.base_ms, ctx.base_ms + DURATION_S * 1000
    window = f"resolution=1m&from={start}&to={end}"
    with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
        summary_times, _ = _timed_get(client, f"{api}/summary", n)
        route = "export"
        probe = client.get(f"{api}/export?format=csv&{window}")
        if probe.status_code == 404:
            route = "series"
            export_times, response = _timed_get(client, f"{api}/series?{window}", n)
        else:
            export_times, response = _timed_get(client, f"{api}/export?format=csv&{window}", n)
    if response.status_code != 200:
        raise ProcessFailed(f"dashboard {route} answered {response.status_code}: {response.text}")
    summary = summarize_ms(summary_times)
    export = summarize_ms(export_times)
    ctx.results.details["dashboard"] = {
        "summary_ms": summary,
        "export_route": route,
        "export_ms": export,
        "export_bytes": len(response.content),
        "requests": n,
    }
    ctx.extra_rows.append(
        ("Dashboard: summary API p50 / p95", f"{_ms(summary['p50'])} / {_ms(summary['p95'])}")
    )
    label = (
        "Dashboard: 3-hour 1-minute CSV export p50"
        if route == "export"
        else "Dashboard: 3-hour 1-minute series (no export route yet) p50"
    )
    ctx.extra_rows.append((label, f"{_ms(export['p50'])} ({len(response.content):,} bytes)"))


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} ms"
