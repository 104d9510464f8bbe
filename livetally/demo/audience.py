"""A seeded model of the carnival's evening audience, as a lazy, time-ordered event stream.

Viewers arrive along a curve that rises to a peak about an hour in, with a second bump
for the finale; each session joins, sends a heartbeat every 10 s and mostly leaves (the
rest just stop and time out). Logged-in viewers sometimes reconnect with a new session.
Only sessions in progress are held (in a heap keyed by their next event), so memory
follows the concurrent audience, not the total.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from livetally.demo.carnival import DURATION_S, PARTNERS, STREAM, TOTAL_SESSIONS, DemoPartner

__all__ = ["AudienceModel", "AudienceParams", "SimEvent", "arrival_weights", "audience_events"]

SimEvent = tuple[int, str, dict[str, Any]]
"""``(offset from the start in ms, partner id, event without ts)``."""

_JOIN, _BEAT, _END = 0, 1, 2


@dataclass(frozen=True)
class AudienceParams:
    """Everything that shapes the simulated audience."""

    scale: float = 1.0
    """Audience size relative to the real event (1 = about 1,050,000 sessions)."""
    seed: int = 20241221
    """Seed of the random generator: the same seed gives the same events."""
    duration_s: int = DURATION_S
    """Length of the broadcast."""
    total_sessions: int = TOTAL_SESSIONS
    """Sessions across all partners at scale 1 (reconnects included)."""
    stream: str = STREAM.id
    """The stream every event names."""
    partners: Sequence[DemoPartner] = field(default_factory=lambda: PARTNERS)
    """The partners and their audience weights."""
    heartbeat_s: int = 10
    """Seconds between a session's heartbeats (and between a reports partner's counts)."""
    median_session_s: float = 720.0
    """Median session length (log-normal)."""
    session_sigma: float = 1.0
    """Spread of the log-normal session length."""
    min_session_s: float = 15.0
    """Shortest session."""
    leave_share: float = 0.85
    """Share of sessions that end with a leave (the rest stop and time out)."""
    logged_in_share: float = 0.5
    """Share of arriving viewers with a viewer_id."""
    reconnect_share: float = 0.2
    """Chance a logged-in viewer comes back with a new session when one ends."""

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError("scale must be positive")
        if self.duration_s < 60:
            raise ValueError("duration_s must be at least 60")
        if not self.partners:
            raise ValueError("at least one partner is needed")

    @property
    def target_sessions(self) -> int:
        """How many sessions the model aims at."""
        return round(self.total_sessions * self.scale)

    @property
    def sessions_per_arrival(self) -> float:
        """Expected sessions per arriving viewer, counting geometric reconnects."""
        q, p = self.logged_in_share, self.reconnect_share
        return (1 - q) + q / (1 - p)


def arrival_weights(duration_s: int) -> list[float]:
    """Share of arrivals in each second: a peak ~55 min in, a finale bump, a steady base."""
    raw = []
    for second in range(duration_s):
        m = second / 60.0
        main = math.exp(-0.5 * ((m - 55.0) / 22.0) ** 2)
        finale = 0.5 * math.exp(-0.5 * ((m - 135.0) / 12.0) ** 2)
        base = 0.12 * (1.0 - math.exp(-m / 4.0))
        raw.append(main + finale + base)
    total = sum(raw)
    return [w / total for w in raw]


class AudienceModel:
    """Generates the audience's events lazily; counters say how far it has got."""

    def __init__(self, params: AudienceParams) -> None:
        self.params = params
        self.sessions_started = 0
        """Sessions started so far (reports partner's included)."""
        self.concurrent = 0
        """Sessions in progress right now (simulated)."""
        self.peak_concurrent = 0
        """Most sessions ever in progress at once."""

    def events(self) -> Iterator[SimEvent]:
        """Every event in time order: ``(offset ms, partner id, event without ts)``."""
        p = self.params
        rng = random.Random(p.seed)  # noqa: S311 - a simulation, not security
        ids = [partner.id for partner in p.partners]
        reports = {partner.id for partner in p.partners if partner.mode == "reports"}
        cum_weights = list(itertools.accumulate(partner.weight for partner in p.partners))
        weights = arrival_weights(p.duration_s)
        arrivals_total = p.target_sessions / p.sessions_per_arrival
        end_ms = p.duration_s * 1000
        beat_ms = p.heartbeat_s * 1000
        mu = math.log(p.median_session_s)
        stream = p.stream
        heap: list[tuple[int, int, int, list[Any]]] = []
        seq = itertools.count()
        # Per reports partner: [sessions active, sessions so far, set of viewers so far].
        report_state: dict[str, list[Any]] = {pid: [0, 0, set()] for pid in reports}
        viewer_ids = itertools.count(1)
        session_ids = itertools.count(1)

        def start(at_ms: int, platform: str, viewer: str | None) -> None:
            length = max(p.min_session_s, rng.lognormvariate(mu, p.session_sigma))
            stop = min(end_ms, at_ms + int(length * 1000))
            leaves = rng.random() < p.leave_share
            state = [f"s{next(session_ids):08d}", viewer, platform, stop, leaves]
            heapq.heappush(heap, (at_ms, next(seq), _JOIN, state))

        acc = 0.0
        for second in range(p.duration_s + 1):
            now_ms = second * 1000
            if second < p.duration_s:
                acc += arrivals_total * weights[second]
                arrivals = int(acc)
                acc -= arrivals
                for _ in range(arrivals):
                    platform = ids[rng.choices(range(len(ids)), cum_weights=cum_weights)[0]]
                    viewer = (
                        f"u{next(viewer_ids):08d}" if rng.random() < p.logged_in_share else None
                    )
                    start(now_ms + rng.randrange(1000), platform, viewer)
            if second % p.heartbeat_s == 0 and 0 < second < p.duration_s:
                yield from _counts(now_ms, stream, report_state)
            limit = now_ms + 1000 if second < p.duration_s else end_ms + 1
            while heap and heap[0][0] < limit:
                at_ms, _, kind, state = heap[0]
                sid, viewer, platform, stop, leaves = state
                if kind == _JOIN:
                    self.sessions_started += 1
                    self.concurrent += 1
                    self.peak_concurrent = max(self.peak_concurrent, self.concurrent)
                    if platform in reports:
                        counts = report_state[platform]
                        counts[0] += 1
                        counts[1] += 1
                        counts[2].add(viewer or sid)
                        heapq.heapreplace(heap, (stop, next(seq), _END, state))
                        continue
                    event: dict[str, Any] = {"type": "join", "stream": stream, "session_id": sid}
                    if viewer is not None:
                        event["viewer_id"] = viewer
                    yield at_ms, platform, event
                    nxt = at_ms + beat_ms
                    if nxt < stop:
                        heapq.heapreplace(heap, (nxt, next(seq), _BEAT, state))
                    else:
                        heapq.heapreplace(heap, (stop, next(seq), _END, state))
                elif kind == _BEAT:
                    event = {"type": "heartbeat", "stream": stream, "session_id": sid}
                    if viewer is not None:
                        event["viewer_id"] = viewer
                    yield at_ms, platform, event
                    nxt = at_ms + beat_ms
                    if nxt < stop:
                        heapq.heapreplace(heap, (nxt, next(seq), _BEAT, state))
                    else:
                        heapq.heapreplace(heap, (stop, next(seq), _END, state))
                else:
                    heapq.heappop(heap)
                    self.concurrent -= 1
                    if platform in reports:
                        report_state[platform][0] -= 1
                    elif leaves:
                        event = {"type": "leave", "stream": stream, "session_id": sid}
                        if viewer is not None:
                            event["viewer_id"] = viewer
                        yield at_ms, platform, event
                    if viewer is not None and rng.random() < p.reconnect_share:
                        again = at_ms + rng.randrange(3000, 90_000)
                        if again < end_ms - 30_000:
                            start(again, platform, viewer)
        # The final counts, once everyone has gone.
        yield from _counts(end_ms, stream, report_state)


def _counts(now_ms: int, stream: str, report_state: dict[str, list[Any]]) -> Iterator[SimEvent]:
    for pid in sorted(report_state):
        active, cumulative, uniques = report_state[pid]
        yield (
            now_ms,
            pid,
            {
                "type": "count",
                "stream": stream,
                "concurrent": active,
                "cumulative": cumulative,
                "uniques": len(uniques),
            },
        )


def audience_events(scale: float = 1.0, seed: int = 20241221) -> Iterator[SimEvent]:
    """The carnival audience's events in time order (see ``AudienceModel``)."""
    return AudienceModel(AudienceParams(scale=scale, seed=seed)).events()
