"""Checkpoint payloads: state → bytes → state keeps every number and all future behaviour."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.partials import Chunk
from contract.records import encode_batch
from contract.series import PlatformDiffs
from stream.partition_state import Freezing, PartitionState
from stream.snapshot import SnapshotError, dump_state, load_state, split_chunks
from tests.oracle import Accepted, numbers
from tests.stream.conftest import EAGER_FREEZING, to_event
from tests.stream.test_presence import T0, _consistent, at, event_strategy

PARTITIONS = 2


def record(a: Accepted) -> tuple[int, bytes]:
    viewer = a.viewer_id or a.session_id or ""
    p = zlib.crc32(f"{a.platform}/{viewer}".encode()) % PARTITIONS
    return p, encode_batch(a.platform, max(a.ts, 10**12), [to_event(a)], timeout_ms=a.timeout_ms)


def session_view(state: PartitionState):
    """Everything a state counts with, in plain values."""
    out = {}
    for key, platform in state.platforms.items():
        sessions = {}
        for sid in platform.session_ids():
            s = platform.session(sid)
            assert s is not None
            sessions[sid] = (
                s.first,
                s.start_times(),
                s.leave_times(),
                s.ranges,
                s.timeout_of or {},
            )
        out[key] = (
            sessions,
            platform.all_viewers(),
            platform.reports,
            {m: platform.session_cells(m) for m in platform.changes},
            (platform.last_event_ts, platform.last_arrival, platform.events, platform.rejected),
        )
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(event_strategy, max_size=30),
    st.integers(0, 30),
    st.randoms(use_true_random=False),
    st.sampled_from([Freezing(), EAGER_FREEZING]),
)
def test_restored_state_counts_exactly_like_the_original(
    events, cut, rnd: random.Random, freezing: Freezing
):
    events = _consistent(events)
    rnd.shuffle(events)
    cut = min(cut, len(events))
    original = [PartitionState(p, freezing) for p in range(PARTITIONS)]
    merged_a: dict[str, PlatformDiffs] = {}
    merged_b: dict[str, PlatformDiffs] = {}

    def publish(states, merged):
        for state in states:
            for chunk in state.drain()[0]:
                merged.setdefault(chunk.platform, PlatformDiffs()).put(chunk)

    for n, a in enumerate(events[:cut]):
        p, value = record(a)
        original[p].apply_record(n, value)
    publish(original, merged_a)
    for platform, diffs in merged_a.items():
        merged_b[platform] = PlatformDiffs()
        for slot, seconds in diffs._chunks.items():
            merged_b[platform].put(Chunk("s", platform, slot[0], slot[1], seconds))
    restored = [load_state(dump_state(state), freezing) for state in original]
    for a, b in zip(original, restored, strict=True):
        assert session_view(a) == session_view(b)
        assert a.next_offset == b.next_offset
    for n, a in enumerate(events[cut:], start=cut):
        p, value = record(a)
        original[p].apply_record(n, value)
        restored[p].apply_record(n, value)
    publish(original, merged_a)
    publish(restored, merged_b)
    for a, b in zip(original, restored, strict=True):
        assert session_view(a) == session_view(b)
    unique = set(events)
    for platform in ("p1", "p2", "rep"):
        for s in range(T0 // 1000, T0 // 1000 + 215):
            expected = numbers(unique, platform, s * 1000)
            assert at(merged_a, platform, s * 1000 - T0) == expected
            assert at(merged_b, platform, s * 1000 - T0) == expected


def test_snapshot_keeps_wide_sessions_and_odd_timeouts():
    state = PartitionState(3)
    far = 30 * 24 * 3600 * 1000
    events = [
        Accepted("web", "join", T0, "a", "v"),
        Accepted("web", "heartbeat", T0 + far, "a", "v"),
        Accepted("web", "heartbeat", T0 + 5_000, "b", None, timeout_ms=60_000),
        Accepted("web", "leave", T0 + 7_000, "a", "v"),
    ]
    for n, a in enumerate(events):
        received = a.ts + 1000
        state.apply_record(n, encode_batch("web", received, [to_event(a)], timeout_ms=a.timeout_ms))
    restored = load_state(dump_state(state))
    assert session_view(restored) == session_view(state)
    assert restored.partition == 3 and restored.next_offset == 4
    wide = restored.platforms[("s", "web")].session("a")
    assert wide is not None and wide.starts.typecode == "q"


def test_packed_sessions_are_kept_packed_and_counted_on_exactly():
    state = PartitionState(0, EAGER_FREEZING)
    events = [Accepted("web", "join", T0 + 1_000 * n, f"s{n}", f"v{n % 3}") for n in range(50)]
    events.append(Accepted("web", "heartbeat", T0 + 200_000, "late", None))
    for n, a in enumerate(events):
        state.apply_record(n, encode_batch("web", a.ts + 1000, [to_event(a)]))
    platform = state.platforms[("s", "web")]
    packed = platform.packed_ids()
    assert packed == {f"s{n}" for n in range(50)}  # every one offline before the last event
    assert len(platform.cold_sessions) == 50  # moved out of the dict, as are the viewers
    assert len(platform.cold_viewers) == 4  # v0-v2 and "late", a session without a viewer id
    restored = load_state(dump_state(state), EAGER_FREEZING)
    again = restored.platforms[("s", "web")]
    assert again.packed_ids() == packed
    assert session_view(restored) == session_view(state)
    # A late event for a packed session unpacks it and counts it as before.
    late = encode_batch(
        "web", T0 + 201_000, [to_event(Accepted("web", "leave", T0 + 10_500, "s10"))]
    )
    for copy in (state, restored):
        copy.apply_record(len(events), late)
    assert session_view(restored) == session_view(state)
    assert "s10" in again.packed_ids()  # packed again: it is still offline
    assert again.session("s10").leave_times() == [T0 + 10_500]
    # The dump wrote the cold stores from views of their buffers and let them go after.
    dump_state(state)
    platform.cold_viewers.extend(["v-new"], [bytes(8)])
    assert "v-new" in platform.cold_viewers


def test_a_checkpoint_packs_the_sessions_offline_long_enough_even_before_a_sweep_is_due():
    rarely = Freezing(grace_ms=120_000, every_ms=10**9, min_sweep=10**9)
    state = PartitionState(0, rarely)
    events = [Accepted("web", "join", T0 + 1_000 * n, f"s{n}") for n in range(5)]
    events.append(Accepted("web", "heartbeat", T0 + 170_000, "now", None))
    for n, a in enumerate(events):
        state.apply_record(n, encode_batch("web", a.ts + 1000, [to_event(a)]))
    platform = state.platforms[("s", "web")]
    before = session_view(state)
    assert not platform.packed_ids()
    restored = load_state(dump_state(state), rarely)
    # s<n> is offline from T0 + 30 s + n s on, so 120 s before the last event: packed.
    want = {f"s{n}" for n in range(5)}
    for copy in (state, restored):
        assert copy.platforms[("s", "web")].packed_ids() == want
    assert session_view(state) == session_view(restored) == before


def test_a_snapshot_of_the_previous_version_still_loads():
    # Written by the release before packed sessions: two sessions of one partner.
    data = (Path(__file__).parent / "data" / "snapshot-v1.bin").read_bytes()
    state = load_state(data)
    platform = state.platforms[("s", "web")]
    a, b = platform.session("a"), platform.session("b")
    assert a is not None and b is not None
    assert a.start_times() == [T0, T0 + 10_000] and a.leave_times() == [T0 + 15_500]
    assert a.ranges == [(T0 // 1000, T0 // 1000 + 16)]
    assert b.ranges == [(T0 // 1000 + 2, T0 // 1000 + 32)]
    assert platform.all_viewers() == {"v": T0, "b": T0 + 2_000}
    assert (state.partition, state.next_offset, platform.events) == (1, 4, 4)


def test_damaged_snapshots_are_refused_with_a_reason():
    state = PartitionState(0)
    state.apply_record(0, encode_batch("web", T0, [to_event(Accepted("web", "join", T0, "a"))]))
    data = dump_state(state)
    with pytest.raises(SnapshotError, match="not a livetally snapshot"):
        load_state(b"hello")
    with pytest.raises(SnapshotError, match="truncated"):
        load_state(data[:-3])


def test_split_chunks_round_trips():
    data = bytes(range(256)) * 10
    pieces = list(split_chunks(data, 1000))
    assert [len(p) for p in pieces] == [1000, 1000, 560]
    assert b"".join(pieces) == data
    assert list(split_chunks(b"", 10)) == [b""]
