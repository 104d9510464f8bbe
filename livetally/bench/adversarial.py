"""Part ``adversarial``: the worst event patterns one partner can send.

First in process (``livetally.bench.worst``): CPU per event of each worst pattern in the
counting code against an in-order heartbeat. Then through the stack, two attacks, each
posted through ingest while the probe partner posts a join every ``probe_interval_s`` and
the summary API is watched for it:

- ``sessions``: one session with ``attack_starts`` heartbeats at distinct milliseconds,
  then ``attack_leaves`` leaves at random instants among them (out of order);
- ``reports``: a reports-mode partner posts ``attack_reports`` reports at distinct
  milliseconds, then (once they are counted) one every 0.25 s for ``attack_tail_s`` s.

After the bulk of each attack the attacker posts a marker that the summary shows only once
every event before it in its partition was counted, so "counted" is observed, not guessed.
Reported: the attack's events per second from its first request to the marker being
visible, and the longest time any probe accepted meanwhile took to reach the summary (how
long the attack could hold other partners' numbers back).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from contract.registry import Partner, hash_secret, new_secret
from contract.registry_actions import KEY_PREFIX
from livetally.bench.context import BENCH_RATE, Context, register
from livetally.bench.endtoend import ProbeResult, partner_figures, probe_summary
from livetally.bench.worst import measure
from livetally.demo.carnival import PARTNERS, STREAM
from livetally.demo.replay import wait_ready
from livetally.exceptions import ProcessFailed

__all__ = ["REPORTS_PARTNER", "attack_batches", "run_adversarial"]

PREFIX = "bench.adv."
REPORTS_PARTNER = "bench-reports"
"""The reports-mode partner of the reports attack."""
BATCH = 500
MARKER_VIEWS = 777_777
"""The cumulative views the reports attack's marker reports; no other report has any."""


@dataclass(frozen=True)
class AttackResult:
    """One attack as the stack saw it."""

    events: int
    seconds: float
    """From the first attack request to the marker being visible in the summary."""
    probes: ProbeResult

    @property
    def events_per_s(self) -> float:
        """The attack's events counted per second."""
        return self.events / self.seconds if self.seconds else 0.0

    def longest_stall_ms(self) -> float | None:
        """The longest a probe accepted during the attack took to reach the summary."""
        latencies = self.probes.latencies()
        return max(latencies) * 1000 if latencies else None


def attack_batches(
    kind: str, count: int, extra: int, start_ms: int, seed: int
) -> Iterator[list[dict[str, Any]]]:
    """The attack's events in request-sized batches (``kind`` is sessions or reports).

    sessions: ``count`` heartbeats of one session 1 ms apart, then ``extra`` leaves at
    distinct random instants among them, shuffled. reports: ``count`` reports 1 ms apart.
    """
    stream = STREAM.id
    events: list[dict[str, Any]]
    if kind == "sessions":
        events = [
            {"type": "heartbeat", "stream": stream, "ts": start_ms + i, "session_id": "attack"}
            for i in range(count)
        ]
        rnd = random.Random(seed)
        leaves = rnd.sample(range(start_ms, start_ms + count), min(extra, count))
        events += [
            {"type": "leave", "stream": stream, "ts": ts, "session_id": "attack"} for ts in leaves
        ]
    elif kind == "reports":
        events = [
            {"type": "count", "stream": stream, "ts": start_ms + i, "concurrent": i % 1000}
            for i in range(count)
        ]
    else:
        raise ValueError(f"unknown attack {kind!r}")
    for i in range(0, len(events), BATCH):
        yield events[i : i + BATCH]


def _post(client: httpx.Client, url: str, events: list[dict[str, Any]]) -> None:
    response = client.post(url, json={"events": events})
    if response.status_code != 202:
        raise ProcessFailed(
            f"ingest refused an attack batch: {response.status_code} {response.text}"
        )


def _wait_visible(
    client: httpx.Client,
    summary_url: str,
    partner: str,
    check: Callable[[dict[str, Any]], bool],
    timeout_s: float,
) -> float | None:
    """When the summary first showed ``partner``'s figures passing ``check``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        figures = partner_figures(client, summary_url, partner)
        if figures and check(figures):
            return time.time()
        time.sleep(0.05)
    return None


def _marker(kind: str, now_ms: int) -> tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]:
    """An event behind the attack in its partition, and how the summary shows it counted.

    The marker's effect never expires (a view, a cumulative), so an attack that takes long
    to count is still seen as counted when it is.
    """
    stream = STREAM.id
    if kind == "sessions":
        # A second session of the same viewer: the same partition key as the attack's
        # session (its viewer is its session id), and the partner's second view.
        event = {
            "type": "join",
            "stream": stream,
            "ts": now_ms,
            "session_id": "marker",
            "viewer_id": "attack",
        }
        return event, lambda figures: figures.get("views") == 2
    event = {
        "type": "count",
        "stream": stream,
        "ts": now_ms,
        "concurrent": 1,
        "cumulative": MARKER_VIEWS,
    }
    return event, lambda figures: figures.get("views") == MARKER_VIEWS


def _attack(
    ctx: Context,
    kind: str,
    ingest_url: str,
    summary_url: str,
    key: str,
    token: str,
    probe: Callable[[threading.Event], ProbeResult],
) -> AttackResult:
    sizes = ctx.config.sizes
    partner = PARTNERS[0].id if kind == "sessions" else REPORTS_PARTNER
    count = sizes.attack_starts if kind == "sessions" else sizes.attack_reports
    start_ms = time.time_ns() // 1_000_000 - 600_000
    done = threading.Event()
    box: list[ProbeResult] = []
    prober = threading.Thread(target=lambda: box.append(probe(done)), name="adv-probe")
    prober.start()
    time.sleep(1.0)  # a few probes before the attack, to compare with
    events = 0
    url = f"{ingest_url}/v1/events"
    auth = {"Authorization": f"Bearer {key}"}
    viewer = {"Authorization": f"Bearer {token}"}
    started = time.time()
    try:
        with httpx.Client(timeout=120, headers=auth) as client:
            seed = ctx.config.seed
            for batch in attack_batches(kind, count, sizes.attack_leaves, start_ms, seed):
                _post(client, url, batch)
                events += len(batch)
            marker, seen = _marker(kind, time.time_ns() // 1_000_000)
            _post(client, url, [marker])
            events += 1
            with httpx.Client(timeout=10, headers=viewer) as reader:
                visible = _wait_visible(reader, summary_url, partner, seen, timeout_s=600)
            if visible is None:
                raise ProcessFailed(f"the {kind} attack was not counted within 10 minutes")
            if kind == "reports":
                # A partner that goes on reporting every 0.25 s on top of all it sent.
                tail_end = time.monotonic() + sizes.attack_tail_s
                while time.monotonic() < tail_end:
                    ts = time.time_ns() // 1_000_000
                    report = {"type": "count", "stream": STREAM.id, "ts": ts, "concurrent": 1}
                    _post(client, url, [report])
                    time.sleep(0.25)
    finally:
        done.set()
        prober.join(timeout=120)
    if not box:
        raise ProcessFailed("the probe thread failed")
    return AttackResult(events=events, seconds=visible - started, probes=box[0])


def _worst_in_process(ctx: Context) -> None:
    """The worst patterns' CPU per event in the counting code, against a heartbeat's."""
    sizes = ctx.config.sizes
    repeat = 1 if ctx.config.quick else 3
    ctx.say(f"adversarial: worst patterns in process ({sizes.worst_events:,} events each)")
    costs = measure(sizes.worst_events, sizes.worst_events, repeat)
    base = costs["heartbeat"]
    ratios = {name: cost / base for name, cost in costs.items() if name != "heartbeat"}
    worst = max(ratios, key=lambda name: ratios[name])
    ctx.results.set("worst_cost_ratio", ratios[worst], "the heartbeat baseline took no time")
    ctx.results.details["worst_patterns"] = {
        "us_per_event": {name: round(cost * 1e6, 2) for name, cost in costs.items()},
        "ratio_to_heartbeat": {name: round(r, 2) for name, r in ratios.items()},
        "worst": worst,
        "events": sizes.worst_events,
        "repeat": repeat,
    }
    ctx.say(f"adversarial: worst pattern {worst}: {ratios[worst]:.1f}x a heartbeat")


def run_adversarial(ctx: Context) -> None:
    """The worst patterns in process, then both attacks through a fresh worker, ingest and
    dashboard, with probes alongside."""
    _worst_in_process(ctx)
    sizes = ctx.config.sizes
    results = ctx.results
    stack = ctx.stack
    reports_key = new_secret(KEY_PREFIX)
    reg = register(
        stack,
        PREFIX,
        extra=(
            Partner(
                id=REPORTS_PARTNER,
                name="bench reports",
                mode="reports",
                rate=BENCH_RATE,
                key_hash=hash_secret(reports_key),
            ),
        ),
    )
    env = stack.env(PREFIX, 4, LIVETALLY_STREAM_APP_ID="bench-adv")
    worker = stack.serve("worker", "worker-adv", env)
    ingest = stack.serve("ingest", "ingest-adv", env)
    dashboard = stack.serve("dashboard", "dashboard-adv", env)
    ingest_url = ingest.health_url.removesuffix("/healthz")
    dashboard_url = dashboard.health_url.removesuffix("/healthz")
    wait_ready(ingest_url)
    summary_url = f"{dashboard_url}/api/v1/streams/{STREAM.id}/summary"

    def probe(until: threading.Event) -> ProbeResult:
        return probe_summary(
            ingest_url,
            reg.probe_key,
            summary_url,
            reg.token,
            sizes.probe_interval_s,
            until=until,
            settle_s=30.0,
        )

    details: dict[str, Any] = {}
    stalls: list[float] = []
    for kind, key in (("sessions", reg.keys[PARTNERS[0].id]), ("reports", reports_key)):
        ctx.say(f"adversarial: {kind} attack, probing the summary API")
        attack = _attack(ctx, kind, ingest_url, summary_url, key, reg.token, probe)
        stall = attack.longest_stall_ms()
        if stall is not None:
            stalls.append(stall)
        details[kind] = {
            "events": attack.events,
            "seconds": round(attack.seconds, 2),
            "events_per_s": round(attack.events_per_s, 1),
            "probes": len(attack.probes.accepted_at),
            "probes_unseen": attack.probes.unseen,
            "longest_stall_ms": None if stall is None else round(stall, 1),
        }
        ctx.say(
            f"adversarial: {kind}: {attack.events:,} events counted at "
            f"{attack.events_per_s:,.0f}/s; longest probe wait "
            f"{'n/a' if stall is None else f'{stall:,.0f} ms'}"
        )
        ctx.extra_rows.append(
            (f"Adversarial: {kind} attack counted", f"{attack.events_per_s:,.0f} events/s")
        )
    details["sizes"] = {
        "starts": sizes.attack_starts,
        "leaves": sizes.attack_leaves,
        "reports": sizes.attack_reports,
        "tail_s": sizes.attack_tail_s,
    }
    results.details["adversarial"] = details
    results.set("adversarial_stall_ms", max(stalls) if stalls else None, "no probe was accepted")
    for service in (dashboard, ingest, worker):
        stack.stop(service)
