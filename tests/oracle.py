"""The metric definitions of docs/metrics.md evaluated by brute force: the tests' oracle.

Deliberately naive and independent of the stream app's data structures: it looks at the
whole set of accepted events for every question it is asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

REPORT_TTL_MS = 120_000


@dataclass(frozen=True)
class Accepted:
    """One accepted event as the oracle sees it."""

    platform: str
    type: str
    ts: int
    session_id: str | None = None
    viewer_id: str | None = None
    timeout_ms: int = 30_000
    concurrent: int | None = None
    cumulative: int | None = None
    uniques: int | None = None


def _online(events: list[Accepted], t: int) -> bool:
    leaves = [e.ts for e in events if e.type == "leave"]
    for e in events:
        if e.type in ("join", "heartbeat") and e.ts <= t < e.ts + e.timeout_ms:
            if not any(e.ts <= leave <= t for leave in leaves):
                return True
    return False


def numbers(events: Iterable[Accepted], platform: str, t: int) -> tuple[int, int, int]:
    """(concurrent, views, uniques) of one platform at instant t (ms)."""
    mine = {e for e in events if e.platform == platform}
    counts = [e for e in mine if e.type == "count"]
    if counts:
        past = [e for e in counts if e.ts <= t]
        concurrent = 0
        if past:
            latest_ts = max(e.ts for e in past)
            if t - latest_ts < REPORT_TTL_MS:
                concurrent = max(e.concurrent or 0 for e in past if e.ts == latest_ts)
        views = max((e.cumulative for e in past if e.cumulative is not None), default=0)
        uniques = max((e.uniques for e in past if e.uniques is not None), default=0)
        return concurrent, views, uniques
    by_session: dict[str, list[Accepted]] = {}
    for e in mine:
        assert e.session_id is not None
        by_session.setdefault(e.session_id, []).append(e)
    concurrent = sum(1 for evs in by_session.values() if _online(evs, t))
    seen = {sid: evs for sid, evs in by_session.items() if any(e.ts <= t for e in evs)}
    views = len(seen)
    viewers = {e.viewer_id or e.session_id for e in mine if e.ts <= t}
    return concurrent, views, len(viewers)


def peak(events: Iterable[Accepted], platforms: Iterable[str], seconds: Iterable[int]):
    """(peak concurrent, earliest second) of the total over the given whole seconds."""
    events = list(events)
    platforms = list(platforms)
    best, best_at = 0, None
    for s in sorted(seconds):
        total = sum(numbers(events, p, s * 1000)[0] for p in platforms)
        if total > best:
            best, best_at = total, s
    return best, best_at
