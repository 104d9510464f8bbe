"""Part 1: ingest throughput (closed loop) and request latency at a fixed offered load."""

from __future__ import annotations

from livetally.bench.context import Context, register
from livetally.bench.loadgen import LoadSpec, closed_loop, open_loop, warm_up
from livetally.bench.stats import percentile
from livetally.demo.replay import wait_ready
from livetally.exceptions import ProcessFailed

__all__ = ["run_ingest"]

PREFIX = "bench.ingest."


def run_ingest(ctx: Context) -> None:
    """Only Kafka and ingest run here, so the figure is ingest's own."""
    sizes = ctx.config.sizes
    results = ctx.results
    reg = register(ctx.stack, PREFIX)
    ingest = ctx.stack.serve("ingest", "ingest", ctx.stack.env(PREFIX))
    base_url = ingest.health_url.removesuffix("/healthz")
    wait_ready(base_url)
    spec = LoadSpec(url=base_url, keys=reg.keys, log_path=str(ctx.log_path), full_only=True)
    if ctx.executor.submit(warm_up, spec).result() == 0:
        raise ProcessFailed(f"ingest refused the warm-up batches:\n{ingest.tail()}")

    ctx.say(
        f"ingest: {sizes.ingest_clients} clients, as fast as they go, {sizes.ingest_seconds:g} s"
    )
    closed = ctx.executor.submit(closed_loop, spec, sizes.ingest_seconds, sizes.ingest_clients)
    done = closed.result()
    results.set("ingest_events_per_s", done.accepted / done.seconds if done.seconds else None)
    ctx.say(f"ingest: {done.accepted:,} events in {done.seconds:.1f} s, statuses {done.statuses}")

    rate = sizes.latency_rate
    ctx.say(f"ingest: open loop at {rate:,} events/s for {sizes.latency_seconds:g} s")
    paced = ctx.executor.submit(open_loop, spec, rate, sizes.latency_seconds).result()
    ms = [s * 1000 for s in paced.latencies_s]
    p99 = percentile(ms, 99)
    if rate == 20_000:
        results.set("ingest_p99_ms_at_20k", p99, "no request was answered")
    else:
        results.set("ingest_p99_ms_at_20k", None, f"--quick offers {rate:,} events/s, not 20,000")
    results.details["ingest"] = {
        "clients": sizes.ingest_clients,
        "seconds": round(done.seconds, 2),
        "requests": done.requests,
        "accepted": done.accepted,
        "failed": done.failed,
        "statuses": {str(k): v for k, v in done.statuses.items()},
        "latency": {
            "offered_events_per_s": rate,
            "seconds": round(paced.seconds, 2),
            "requests": paced.requests,
            "accepted": paced.accepted,
            "failed": paced.failed,
            "p50_ms": percentile(ms, 50),
            "p99_ms": p99,
            "max_send_lag_ms": round(paced.max_send_lag_s * 1000, 1),
        },
    }
    ctx.extra_rows.append(
        (
            f"Ingest: request p50 / p99 at {rate:,} events/s",
            f"{_ms(percentile(ms, 50))} / {_ms(p99)}",
        )
    )
    ctx.stack.stop(ingest)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} ms"
