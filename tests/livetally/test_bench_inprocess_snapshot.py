"""The in-process memory breakdown of ``livetally.bench.inprocess_snapshot``."""

from __future__ import annotations

import sys

from livetally.bench.inprocess_snapshot import fill_joins, object_bytes


def _allocated(obj: object) -> int:
    return -(-sys.getsizeof(obj) // 8) * 8


def test_the_joins_fill_holds_every_session_and_the_breakdown_adds_them_up():
    # Enough sessions per partner and partition (40 of them) to fill the cold stores.
    states = fill_joins(200_000)
    assert sum(state.sessions() for state in states) == 200_000
    sizes = object_bytes(states)
    platforms = [p for state in states for p in state.platforms.values()]
    assert sizes["session ids"] == sum(_allocated(sid) for p in platforms for sid in p.sessions)
    packed = [h for p in platforms for h in p.sessions.values() if isinstance(h, bytes)]
    assert sizes["packed sessions"] == sum(map(_allocated, packed))
    assert sizes["session objects"] > 0  # the last minutes' sessions, still objects
    # Most sessions went to the cold stores, with the viewers seen before the grace period.
    cold = sum(len(p.cold_sessions) for p in platforms)
    assert 100_000 < cold < 200_000 - len(packed)
    assert sizes["cold sessions"] == sum(p.cold_sessions.nbytes for p in platforms)
    assert sizes["cold viewers"] == sum(p.cold_viewers.nbytes for p in platforms) > 0
    assert sizes["viewer ids"] == sum(
        _allocated(v) for p in platforms for v in p.viewers if v not in p.sessions
    )
    assert sizes["viewer first times"] == 32 * sum(len(p.viewers) for p in platforms)
    assert sizes["minutes of changes"] == sum(
        _allocated(cells) for p in platforms for cells in p.changes.values()
    )
