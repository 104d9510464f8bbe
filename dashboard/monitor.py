"""Pure monitor bookkeeping: pipeline and ingest metrics, alerts, event rates, status history.

``data.py`` feeds it records from the ``metrics`` and ``alerts`` topics and observes the
stats every second; nothing here touches Kafka or Dash.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from contract.alerts import Alert, parse_alert
from contract.metrics import IngestMetrics, Metrics, PipelineMetrics, parse_metric
from contract.stats import Status, feed_status
from dashboard.model import PartnerStats

__all__ = [
    "MAX_ALERTS",
    "MAX_HISTORY",
    "RATE_WINDOW_MS",
    "MonitorSnapshot",
    "MonitorState",
    "RateTracker",
    "StatusChange",
    "StatusHistory",
]

MAX_ALERTS = 1000
"""Alerts kept in memory (the newest by time)."""
MAX_HISTORY = 2000
"""Status changes kept in memory (the newest)."""
RATE_WINDOW_MS = 10_000
"""Events per second are measured over about this much recent time."""

Key = tuple[str, str]
"""(stream, partner)."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A partner feed's status as first seen, or a change of it."""

    stream: str
    platform: str
    at: int
    """Epoch milliseconds of the observation that saw the new status."""
    status: Status
    previous: Status | None


class RateTracker:
    """Events per second of each (stream, partner) from samples of a growing counter."""

    def __init__(self, window_ms: int = RATE_WINDOW_MS) -> None:
        self._window_ms = window_ms
        self._samples: dict[Key, deque[tuple[int, int]]] = {}

    def observe(self, now_ms: int, counters: Mapping[Key, int]) -> None:
        """Record each counter's value at ``now_ms``."""
        for key, value in counters.items():
            samples = self._samples.setdefault(key, deque())
            if samples and value < samples[-1][1]:
                samples.clear()  # the counter restarted (a worker rebuilt its partition)
            samples.append((now_ms, value))
            while len(samples) > 2 and samples[1][0] <= now_ms - self._window_ms:
                samples.popleft()

    def rate(self, key: Key) -> float | None:
        """Events per second over the window; None until two samples a second apart exist."""
        samples = self._samples.get(key)
        if not samples or samples[-1][0] - samples[0][0] < 1000:
            return None
        (t0, v0), (t1, v1) = samples[0], samples[-1]
        return (v1 - v0) * 1000 / (t1 - t0)

    def rates(self) -> dict[Key, float]:
        """Every known rate."""
        out: dict[Key, float] = {}
        for key in self._samples:
            rate = self.rate(key)
            if rate is not None:
                out[key] = rate
        return out


class StatusHistory:
    """Live/stale/offline of each feed over time: the first status seen, then every change."""

    def __init__(self, limit: int = MAX_HISTORY) -> None:
        self._current: dict[Key, Status] = {}
        self._changes: deque[StatusChange] = deque(maxlen=limit)

    def observe(self, now_ms: int, statuses: Mapping[Key, Status]) -> None:
        """Compare with the statuses seen before; record what changed."""
        for (stream, platform), status in sorted(statuses.items()):
            previous = self._current.get((stream, platform))
            if previous != status:
                self._changes.append(StatusChange(stream, platform, now_ms, status, previous))
                self._current[(stream, platform)] = status

    def changes(self) -> tuple[StatusChange, ...]:
        """The changes, newest first."""
        return tuple(reversed(self._changes))


@dataclass(frozen=True)
class MonitorSnapshot:
    """What the monitor page shows at one moment; never mutated once built."""

    pipelines: tuple[PipelineMetrics, ...] = ()
    ingest: tuple[IngestMetrics, ...] = ()
    alerts: tuple[Alert, ...] = ()
    """Newest first."""
    rates: Mapping[Key, float] = field(default_factory=dict)
    history: tuple[StatusChange, ...] = ()
    """Newest first."""
    version: int = 0
    pipelines_shown: bool = True
    """False for a reader the pipeline is not shown to (a limited token)."""
    ingest_shown: bool = True
    """False for a reader the ingest counters are not shown to (a token limited to streams:
    they count a partner's events over every stream)."""

    def rejected_by_partner(self) -> dict[str, dict[str, int]]:
        """Rejected events by partner and reason, summed over ingest instances."""
        out: dict[str, dict[str, int]] = {}
        for m in self.ingest:
            per = out.setdefault(m.partner, {})
            for code, n in m.rejected.items():
                per[code] = per.get(code, 0) + n
        return out

    def accepted_by_partner(self) -> dict[str, int]:
        """Accepted events by partner, summed over ingest instances."""
        out: dict[str, int] = {}
        for m in self.ingest:
            out[m.partner] = out.get(m.partner, 0) + m.accepted
        return out

    def alerts_for(self, stream: str | None, limit: int = 50) -> list[Alert]:
        """The newest alerts of a stream (all streams for None)."""
        return [a for a in self.alerts if stream is None or a.stream == stream][:limit]

    def history_for(self, stream: str, limit: int = 100) -> list[StatusChange]:
        """The newest status changes of a stream's feeds."""
        return [c for c in self.history if c.stream == stream][:limit]


class MonitorState:
    """Latest metrics per key, alerts by id, rates and status history; ``build`` snapshots it."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metrics] = {}
        self._alerts: dict[str, Alert] = {}
        self.rates = RateTracker()
        self.history = StatusHistory()
        self._version = 0

    @property
    def version(self) -> int:
        """Grows with every change."""
        return self._version

    def put_metric(self, key: str, doc: object | None) -> None:
        """Store a metrics record (None: a tombstone removes the key); ``ValueError`` if bad."""
        if doc is None:
            self._metrics.pop(key, None)
        else:
            self._metrics[key] = parse_metric(key, doc)
        self._version += 1

    def put_alert(self, doc: object) -> None:
        """Store an alert (the newest record of an id wins); ``ValueError`` if bad."""
        alert = parse_alert(doc)
        self._alerts[alert.id] = alert
        if len(self._alerts) > MAX_ALERTS:
            oldest = min(self._alerts.values(), key=lambda a: (a.at, a.id))
            del self._alerts[oldest.id]
        self._version += 1

    def observe(self, now_ms: int, stats: Mapping[str, Mapping[str, PartnerStats]]) -> None:
        """Sample the stats' event counters and feed statuses at ``now_ms``."""
        counters = {(s, p): st.events for s, per in stats.items() for p, st in per.items()}
        statuses = {
            (s, p): feed_status(st.last_arrival, now_ms)
            for s, per in stats.items()
            for p, st in per.items()
        }
        self.rates.observe(now_ms, counters)
        before = len(self.history.changes())
        self.history.observe(now_ms, statuses)
        if len(self.history.changes()) != before or counters:
            self._version += 1

    def build(self) -> MonitorSnapshot:
        """An immutable snapshot of the current state."""
        pipelines = sorted(
            (m for m in self._metrics.values() if isinstance(m, PipelineMetrics)),
            key=lambda m: m.worker,
        )
        ingest = sorted(
            (m for m in self._metrics.values() if isinstance(m, IngestMetrics)),
            key=lambda m: (m.partner, m.instance),
        )
        alerts = sorted(self._alerts.values(), key=lambda a: (a.at, a.id), reverse=True)
        return MonitorSnapshot(
            pipelines=tuple(pipelines),
            ingest=tuple(ingest),
            alerts=tuple(alerts),
            rates=self.rates.rates(),
            history=self.history.changes(),
            version=self._version,
        )
