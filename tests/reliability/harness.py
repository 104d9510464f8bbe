"""The reliability suite's tools: a 3-node cluster to hurt, a ledger of acknowledged events,
load threads posting with the partner client, and the exact check against the oracle.

Every test keeps a ``Ledger`` of the events a 202/207 acknowledged and, at the end, waits
until the dashboard's numbers equal ``tests.oracle.numbers`` evaluated on that ledger.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from contract.records import decode_batches
from contract.settings import Settings
from livetally import kafka_probe, pidfiles
from livetally.client import Client, ClientError
from tests.oracle import Accepted, numbers

__all__ = [
    "Cluster",
    "Keys",
    "Ledger",
    "Loader",
    "check_exact",
    "events_in_kafka",
    "expected",
    "make_events",
    "post_raw",
    "summary",
    "to_wire",
    "wait_exact",
]


# --- the cluster ------------------------------------------------------------------------


@dataclass
class Cluster:
    """The local 3-node KRaft cluster, node by node: kill, stop, pause, restart."""

    settings: Settings
    brokers: int = 3
    argv: dict[int, list[str]] = field(default_factory=dict)
    faults: int = 0
    """Broker faults injected so far (kills, stops, pauses), for the report."""

    def __post_init__(self) -> None:
        for node in range(self.brokers):
            cmd = pidfiles.process_cmdline(self.pid(node))
            assert cmd is not None
            self.argv[node] = cmd

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka.bootstrap

    def _pid_path(self, node: int) -> Path:
        return self.settings.home / "run" / f"kafka-{node}.pid"

    def pid(self, node: int) -> int:
        pid = pidfiles.read_pid(self._pid_path(node))
        assert pid is not None, f"node {node} has no pid file"
        return pid

    def alive(self, node: int) -> bool:
        pid = pidfiles.read_pid(self._pid_path(node))
        return pid is not None and pidfiles.process_cmdline(pid) is not None

    def send(self, node: int, sig: int) -> None:
        os.kill(self.pid(node), sig)

    def kill(self, node: int, sig: int = signal.SIGKILL, timeout_s: float = 40) -> None:
        """Signal a node and wait until its process is gone."""
        self.faults += 1
        pid = self.pid(node)
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout_s
        while pidfiles.process_cmdline(pid) is not None:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)

    def restart(self, node: int, timeout_s: float = 90) -> float:
        """Start a stopped node again with its original command; seconds until it is back."""
        assert not self.alive(node), f"node {node} is still running"
        started = time.monotonic()
        pidfiles.spawn(
            self.argv[node],
            log_path=self.settings.home / "logs" / f"kafka-{node}.log",
            pid_path=self._pid_path(node),
        )
        self.wait_registered(timeout_s)
        return time.monotonic() - started

    def wait_registered(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            info = kafka_probe.describe(
                self.settings.kafka.servers, timeout_s=3, security=self.settings.kafka.security
            )
            if info is not None and len(info.get("brokers", [])) == self.brokers:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the cluster did not get {self.brokers} brokers back")
            time.sleep(0.5)

    def describe(self, topic: str) -> list[dict[str, Any]]:
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(
            **self.settings.kafka.client_options(),
            client_id="reliability-probe",
            request_timeout_ms=5000,
        )
        try:
            described = admin.describe_topics([topic])
        finally:
            admin.close()
        partitions: list[dict[str, Any]] = described[0]["partitions"]
        return partitions

    def leaders(self, topic: str) -> dict[int, int]:
        """partition -> node id of its leader."""
        return {p["partition_index"]: p["leader_id"] for p in self.describe(topic)}

    def wait_failed_over(self, node: int, topics: Iterable[str], timeout_s: float = 60) -> float:
        """Wait until ``node`` leads no partition and is out of every ISR; seconds taken."""
        started = time.monotonic()
        names = list(topics)
        while True:
            try:
                still = [
                    (t, p["partition_index"])
                    for t in names
                    for p in self.describe(t)
                    if p["leader_id"] == node or node in p["isr_nodes"]
                ]
            except Exception as exc:  # noqa: BLE001 - the cluster may be electing; ask again
                still = [(str(exc), -1)]
            if not still:
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise AssertionError(f"node {node} still in use after {timeout_s} s: {still}")
            time.sleep(0.3)

    def wait_in_sync(self, topics: Iterable[str], timeout_s: float = 90) -> float:
        """Wait until every partition of ``topics`` has all replicas in sync; seconds taken."""
        started = time.monotonic()
        deadline = started + timeout_s
        names = list(topics)
        while True:
            try:
                lagging = [
                    (t, p["partition_index"])
                    for t in names
                    for p in self.describe(t)
                    if len(p["isr_nodes"]) < self.brokers or p["leader_id"] < 0
                ]
            except Exception as exc:  # noqa: BLE001 - the cluster may be electing; ask again
                lagging = [(str(exc), -1)]
            if not lagging:
                return time.monotonic() - started
            if time.monotonic() > deadline:
                raise AssertionError(f"replicas not in sync after {timeout_s} s: {lagging}")
            time.sleep(0.5)


# --- events -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    """Registered partners' API keys and dashboard tokens."""

    partners: dict[str, str]
    viewer: str
    admin: str
    revoked: str
    streams: list[str]


def make_events(
    seed: int, platforms: Sequence[str], base_ms: int, sessions: int, span_s: int = 90
) -> list[Accepted]:
    """An evening in miniature on each platform: joins, heartbeats every 10 s, some leaves,
    viewers coming back in a second session."""
    rnd = random.Random(seed)
    log: list[Accepted] = []
    for platform in platforms:
        for i in range(sessions):
            start = base_ms + rnd.randrange(0, span_s * 1000)
            duration = rnd.randrange(5_000, 80_000)
            viewer = f"v{i % max(1, sessions * 2 // 3)}" if i % 3 else None
            sid = f"{seed}-{platform}-s{i}"
            log.append(Accepted(platform, "join", start, sid, viewer))
            t = start + 10_000
            while t < start + duration:
                log.append(Accepted(platform, "heartbeat", t, sid, viewer))
                t += 10_000
            if rnd.random() < 0.7:
                log.append(Accepted(platform, "leave", start + duration, sid, viewer))
    rnd.shuffle(log)
    return log


def to_wire(a: Accepted, stream: str) -> dict[str, object]:
    out: dict[str, object] = {"type": a.type, "stream": stream, "ts": a.ts}
    for name in ("session_id", "viewer_id", "concurrent", "cumulative", "uniques"):
        value = getattr(a, name)
        if value is not None:
            out[name] = value
    return out


def batches(log: Sequence[Accepted], size: int) -> Iterator[list[Accepted]]:
    """The log cut into per-platform batches of at most ``size`` events."""
    by_platform: dict[str, list[Accepted]] = {}
    for a in log:
        by_platform.setdefault(a.platform, []).append(a)
    pending = {p: list(evs) for p, evs in by_platform.items()}
    while pending:
        for p in list(pending):
            chunk, pending[p] = pending[p][:size], pending[p][size:]
            if not pending[p]:
                del pending[p]
            yield chunk


# --- the ledger and the load ------------------------------------------------------------


class Ledger:
    """Every event an HTTP 202/207 acknowledged (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[Accepted] = []
        self.requests = 0
        self.statuses: dict[int, int] = {}

    def acknowledged(self, batch: Sequence[Accepted], rejected: Iterable[int] = ()) -> None:
        refused = set(rejected)
        with self._lock:
            self.events.extend(a for i, a in enumerate(batch) if i not in refused)

    def status(self, code: int) -> None:
        with self._lock:
            self.requests += 1
            self.statuses[code] = self.statuses.get(code, 0) + 1

    def __len__(self) -> int:
        return len(self.events)


def post_raw(
    http: httpx.Client, key: str, batch: Sequence[Accepted], stream: str
) -> httpx.Response:
    """One plain POST of a batch (no retries)."""
    return http.post(
        "/v1/events",
        content=orjson.dumps({"events": [to_wire(a, stream) for a in batch]}),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


class CountingTransport(httpx.HTTPTransport):
    """An HTTP transport that tells the ledger every status the server answered."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__()
        self._ledger = ledger

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self._ledger.status(response.status_code)
        return response


class Loader:
    """Threads posting a log with the partner ``Client`` (one per platform), retrying each
    batch until it is acknowledged or ``give_up_s`` passes; acknowledged events go to the
    ledger. ``rate`` (events/s, all threads together) paces the posting."""

    def __init__(
        self,
        ingest_url: str,
        keys: dict[str, str],
        stream: str,
        log: Sequence[Accepted],
        *,
        ledger: Ledger | None = None,
        batch_size: int = 50,
        rate: float | None = None,
        give_up_s: float = 120,
        threads: int = 3,
    ) -> None:
        self.url = ingest_url
        self.keys = keys
        self.stream = stream
        self.ledger = ledger if ledger is not None else Ledger()
        self.batch_size = batch_size
        self.rate = rate
        self.give_up_s = give_up_s
        self.errors: list[str] = []
        self.retries = 0
        self._work = list(batches(log, batch_size))
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"loader-{i}", daemon=True)
            for i in range(threads)
        ]
        self._started = 0.0
        self._sent = 0

    def start(self) -> Loader:
        self._started = time.monotonic()
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    @property
    def progress(self) -> float:
        return self._next / max(1, len(self._work))

    def _take(self) -> list[Accepted] | None:
        with self._lock:
            if self._next >= len(self._work) or self._stop.is_set():
                return None
            batch = self._work[self._next]
            self._next += 1
            self._sent += len(batch)
            sent = self._sent
        if self.rate:
            ahead = sent / self.rate - (time.monotonic() - self._started)
            if ahead > 0:
                time.sleep(ahead)
        return batch

    def _run(self) -> None:
        clients = {
            p: Client(
                self.url,
                key,
                batch_size=1000,
                max_retries=6,
                timeout_s=15,
                transport=CountingTransport(self.ledger),
            )
            for p, key in self.keys.items()
        }
        try:
            while (batch := self._take()) is not None:
                self._post(clients[batch[0].platform], batch)
        finally:
            for c in clients.values():
                c.close()

    def _post(self, client: Client, batch: list[Accepted]) -> None:
        deadline = time.monotonic() + self.give_up_s
        wire = [to_wire(a, self.stream) for a in batch]
        while True:
            before = client.retries
            try:
                result = client.post_batch(wire)
            except ClientError as exc:
                self.retries += client.retries - before
                if exc.status is not None or time.monotonic() > deadline:
                    self.errors.append(str(exc))
                    return
                continue
            self.retries += client.retries - before
            self.ledger.acknowledged(batch, (r.index for r in result.rejected))
            if result.rejected:
                self.errors.append(f"rejected: {result.rejected[:3]}")
            return

    def join(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, (
            f"load threads still running after {timeout_s} s at {self.progress:.0%}: "
            f"statuses {self.ledger.statuses}, errors {self.errors[:3]}"
        )


# --- checking the numbers -----------------------------------------------------------------


def summary(dashboard_url: str, token: str, stream: str, at_ms: int) -> dict[str, Any]:
    r = httpx.get(
        f"{dashboard_url}/api/v1/streams/{stream}/summary",
        params={"at": at_ms},
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


Figures = tuple[int, int, int]


def expected(
    events: Sequence[Accepted],
    platforms: Sequence[str],
    instants: Sequence[int],
    *,
    with_peak: bool = True,
) -> dict[int, dict[str, Any]]:
    """The oracle's numbers at each instant: per platform, total, and the peak so far.

    The oracle counts a session once by its ``session_id``; the stream app routes by viewer
    identity and counts a session sent under two identities once per partition they reach
    (docs/metrics.md). So a log that does so (two ``make_events`` seeds colliding, say) has
    no single right answer here, and is refused rather than compared.
    """
    identity: dict[tuple[str, str | None], str | None] = {}
    for e in events:
        if e.type != "count":
            key = (e.platform, e.session_id)
            seen = identity.setdefault(key, e.viewer_id)
            assert seen == e.viewer_id, f"session {key} sent as viewer {seen} and {e.viewer_id}"
    by_platform = {p: [e for e in events if e.platform == p] for p in platforms}
    first_s = min((e.ts for e in events), default=0) // 1000 - 1
    last_s = max(instants) // 1000
    per_second: dict[int, int] = {}
    for s in range(first_s, last_s + 1) if with_peak else ():
        per_second[s] = sum(numbers(by_platform[p], p, s * 1000)[0] for p in platforms)
    out: dict[int, dict[str, Any]] = {}
    for t in instants:
        plats = {p: numbers(by_platform[p], p, t // 1000 * 1000) for p in platforms}
        total = tuple(sum(v[i] for v in plats.values()) for i in range(3))
        peak = max((v for s, v in per_second.items() if s <= t // 1000), default=0)
        if not with_peak:
            peak = None
        out[t] = {"platforms": plats, "total": total, "peak": peak}
    return out


def actual(doc: dict[str, Any], platforms: Sequence[str]) -> dict[str, Any]:
    plats = {}
    for p in platforms:
        v = doc["platforms"].get(p)
        plats[p] = (0, 0, 0) if v is None else (v["concurrent"], v["views"], v["uniques"])
    t = doc["total"]
    return {
        "platforms": plats,
        "total": (t["concurrent"], t["views"], t["uniques"]),
        "peak": t["peak_concurrent"],
    }


def check_exact(
    dashboard_url: str,
    token: str,
    stream: str,
    events: Sequence[Accepted],
    *,
    instants: Sequence[int] | None = None,
    timeout_s: float = 90,
    with_peak: bool = True,
) -> float:
    """Wait until the dashboard's numbers equal the oracle's on ``events``; seconds waited."""
    platforms = sorted({e.platform for e in events})
    if instants is None:
        lo = min(e.ts for e in events)
        hi = max(e.ts for e in events)
        instants = sorted({lo, lo + (hi - lo) // 3, lo + 2 * (hi - lo) // 3, hi, hi + 60_000})
    want = expected(events, platforms, instants, with_peak=with_peak)
    started = time.monotonic()
    while True:
        got = {t: actual(summary(dashboard_url, token, stream, t), platforms) for t in instants}
        if not with_peak:
            for t in instants:
                got[t]["peak"] = None
        wrong = [t for t in instants if got[t] != want[t]]
        if not wrong:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            t = wrong[0]
            pytest.fail(
                f"{stream} at {t} ({len(events)} acknowledged events): got {got[t]} want {want[t]}"
            )
        time.sleep(1)


wait_exact = check_exact


def events_in_kafka(settings: Settings, stream: str) -> set[tuple[str, str, str, int]]:
    """(platform, session_id, type, ts) of every event of ``stream`` in the events topic."""
    from kafka import KafkaConsumer, TopicPartition

    from contract.topics import EVENTS

    topic = settings.kafka.topic(EVENTS)
    consumer = KafkaConsumer(
        **settings.kafka.client_options(),
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
    )
    found: set[tuple[str, str, str, int]] = set()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        while any(consumer.position(tp) < end[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=1000, max_records=5000).values():
                for record in records:
                    try:
                        batches = decode_batches(record.value)
                    except ValueError:
                        continue
                    for batch in batches:
                        for e in batch.events:
                            if isinstance(e, dict) and e.get("stream") == stream:
                                found.add(
                                    (batch.platform, str(e.get("session_id")), e["type"], e["ts"])
                                )
    finally:
        consumer.close()
    return found


def event_id(a: Accepted) -> tuple[str, str, str, int]:
    return (a.platform, str(a.session_id), a.type, a.ts)
