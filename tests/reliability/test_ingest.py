"""Ingest faults: SIGTERM and SIGKILL under load, and a partner's retry storm."""

from __future__ import annotations

import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest

from tests.oracle import Accepted
from tests.reliability.conftest import RStack
from tests.reliability.harness import (
    Ledger,
    Loader,
    batches,
    check_exact,
    event_id,
    events_in_kafka,
    make_events,
    post_raw,
)

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

PLATFORMS = ["p07", "p08"]


def _base(offset_s: int) -> int:
    return (int(time.time() * 1000) - offset_s * 1000) // 1000 * 1000


@dataclass
class RawLoad:
    """Threads posting plain requests (no retry) until stopped; what each request got."""

    url: str
    keys: dict[str, str]
    stream: str
    work: list[list[Accepted]]
    ledger: Ledger = field(default_factory=Ledger)
    outcomes: list[tuple[float, float, str]] = field(default_factory=list)
    unacknowledged: list[Accepted] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(4)]

    def _take(self) -> list[Accepted] | None:
        with self._lock:
            if self._stop.is_set() or not self.work:
                return None
            return self.work.pop()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while (batch := self._take()) is not None:
                sent = time.monotonic()
                try:
                    r = post_raw(http, self.keys[batch[0].platform], batch, self.stream)
                    what = str(r.status_code)
                except httpx.HTTPError as exc:
                    what = type(exc).__name__
                    time.sleep(0.05)
                got = time.monotonic()
                with self._lock:
                    self.outcomes.append((sent, got, what))
                    if what == "202":
                        self.ledger.acknowledged(batch)
                    else:
                        self.unacknowledged.extend(batch)

    def start(self) -> RawLoad:
        for t in self._threads:
            t.start()
        return self

    def under_way(self, answered: int = 20, timeout_s: float = 60) -> None:
        """Wait until ``answered`` requests were answered; fail if the work ran out first
        (a fault injected then would hit no request in flight)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                done, left = len(self.outcomes), len(self.work)
            assert left, f"the load finished ({done} requests) before the fault: make it larger"
            if done >= answered:
                return
            assert time.monotonic() < deadline, f"only {done} requests answered in {timeout_s} s"
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)
        with self._lock:
            for batch in self.work:
                self.unacknowledged.extend(batch)
            self.work = []


def _settle(rel: RStack, stream: str, load: RawLoad) -> None:
    """Restart ingest, let the partner resend what was not acknowledged, check exactly."""
    rel.stack.start("ingest")
    Loader(
        rel.stack.ingest_url,
        rel.keys.partners,
        stream,
        load.unacknowledged,
        ledger=load.ledger,
        batch_size=500,
    ).start().join(180)
    check_exact(rel.stack.dashboard_url, rel.keys.viewer, stream, load.ledger.events)


def test_ingest_sigterm_drains_and_flushes(rel: RStack) -> None:
    stream = "rel-ingest-term"
    log = make_events(5, PLATFORMS, _base(10_000), sessions=20_000)
    keys = {p: rel.keys.partners[p] for p in PLATFORMS}
    load = RawLoad(rel.stack.ingest_url, keys, stream, list(batches(log, 200))).start()
    load.under_way()
    proc = rel.stack.procs.pop("ingest")
    term_at = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=60)
    exited = time.monotonic() - term_at
    time.sleep(1)
    load.stop()
    assert code == 0, f"ingest exited with {code} after SIGTERM"
    kinds = {w for _, _, w in load.outcomes}
    assert not {k for k in kinds if k.isdigit() and k.startswith("5") and k != "503"}, kinds
    drained = [o for o in load.outcomes if o[0] < term_at < o[1] and o[2] == "202"]
    assert drained, f"no request in flight at SIGTERM was answered: {sorted(kinds)}"
    missing = {event_id(a) for a in load.ledger.events} - events_in_kafka(rel.settings, stream)
    assert not missing, f"{len(missing)} acknowledged events are not in Kafka"
    _settle(rel, stream, load)
    print(
        f"ingest SIGTERM: exited in {exited:.1f} s, {len(drained)} in-flight requests "
        f"answered 202 after the signal, {len(load.ledger)} acknowledged, 0 missing; "
        f"outcomes {sorted(kinds)}"
    )


def test_ingest_sigkill_never_acknowledged_what_kafka_lacks(rel: RStack) -> None:
    stream = "rel-ingest-kill"
    log = make_events(6, PLATFORMS, _base(10_000), sessions=20_000)
    keys = {p: rel.keys.partners[p] for p in PLATFORMS}
    load = RawLoad(rel.stack.ingest_url, keys, stream, list(batches(log, 200))).start()
    load.under_way()
    rel.stack.kill("ingest", signal.SIGKILL)
    time.sleep(1)
    load.stop()
    acknowledged = {event_id(a) for a in load.ledger.events}
    assert acknowledged, "nothing was acknowledged before the kill"
    missing = acknowledged - events_in_kafka(rel.settings, stream)
    assert not missing, f"{len(missing)} events got a 202 but are not in Kafka"
    _settle(rel, stream, load)
    print(f"ingest SIGKILL: {len(acknowledged)} acknowledged before the kill, all in Kafka")


def test_retry_storm_changes_nothing(rel: RStack) -> None:
    stream = "rel-storm"
    log = make_events(7, PLATFORMS, _base(10_000), sessions=60)
    keys = {p: rel.keys.partners[p] for p in PLATFORMS}
    rnd = random.Random(7)
    ledger = Ledger()
    copies = [(b, rnd.randint(1, 5)) for b in batches(log, 25)]

    def send(batch: list[Accepted]) -> None:
        with httpx.Client(base_url=rel.stack.ingest_url, timeout=30) as http:
            r = post_raw(http, keys[batch[0].platform], batch, stream)
            ledger.status(r.status_code)
            if r.status_code == 202:
                ledger.acknowledged(batch)

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(send, [b for b, n in copies for _ in range(n)]))
    assert set(ledger.statuses) == {202}, ledger.statuses
    assert set(ledger.events) == set(log)
    check_exact(rel.stack.dashboard_url, rel.keys.viewer, stream, log)
    print(
        f"retry storm: {len(log)} events in {len(copies)} batches, each sent 1-5 times "
        f"concurrently ({ledger.requests} requests), numbers equal sending once"
    )
