"""The in-process memory breakdown of ``livetally.bench.inprocess_snapshot``."""

from __future__ import annotations

import sys

from livetally.bench.inprocess_snapshot import fill_joins, object_bytes


def test_the_joins_fill_holds_every_session_and_the_breakdown_adds_them_up():
    states = fill_joins(2_000)
    assert sum(state.sessions() for state in states) == 2_000
    sizes = object_bytes(states)
    platforms = [p for state in states for p in state.platforms.values()]
    ids = sum(-(-sys.getsizeof(sid) // 8) * 8 for p in platforms for sid in p.sessions)
    assert sizes["session ids"] == ids
    packed = [h for p in platforms for h in p.sessions.values() if isinstance(h, bytes)]
    assert sizes["packed sessions"] == sum(-(-sys.getsizeof(b) // 8) * 8 for b in packed)
    assert len(packed) > 1_900  # all but the last two minutes of the evening's joins
    assert sizes["session objects"] > 0  # those last ones, still objects
    # Half the sessions carry a viewer id of their own: strings apart from the session ids.
    extra = sum(1 for p in platforms for v in p.viewers if v not in p.sessions)
    assert 800 < extra < 1_200
    assert sizes["viewer ids"] == sum(
        -(-sys.getsizeof(v) // 8) * 8 for p in platforms for v in p.viewers if v not in p.sessions
    )
    assert sizes["viewer first times"] == 32 * sum(len(p.viewers) for p in platforms)
