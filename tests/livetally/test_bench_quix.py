"""The Quix Streams peer's counting, on a dict in place of Quix's state, without Kafka."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from livetally.bench.eventlog import Batch
from livetally.bench.quix import (
    apply_event,
    batch_events,
    exact_totals,
    is_repartition_topic,
    record_batches,
)

TIMEOUT = 30_000


class DictState:
    """Quix's ``State`` as the counting sees it: values go through JSON, as in RocksDB."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key: str, default: Any = None) -> Any:
        value = self.data.get(key)
        return default if value is None else orjson.loads(value)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = orjson.dumps(value)

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def exists(self, key: str) -> bool:
        return key in self.data


def session(kind: str, ts: int, sid: str = "a", viewer: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": kind, "ts": ts, "session_id": sid, "timeout_ms": TIMEOUT}
    if viewer is not None:
        event["viewer_id"] = viewer
    return event


def report(ts: int, concurrent: int, cumulative: int = 0, uniques: int = 0) -> dict[str, Any]:
    return {
        "type": "count",
        "ts": ts,
        "concurrent": concurrent,
        "cumulative": cumulative,
        "uniques": uniques,
    }


def seconds(events: list[dict[str, Any]]) -> dict[int, tuple[int, int, int]]:
    """Every closed second's (concurrent, views, uniques), the rows held between changes."""
    state = DictState()
    rows = [row for event in events for row in apply_event(state, event)]
    first = (events[0]["ts"] - 1) // 1000 + 1
    out: dict[int, tuple[int, int, int]] = {}
    held = (0, 0, 0)
    by_second = {row["second"]: row for row in rows}
    for second in range(first, state.get("clock") + 1):
        row = by_second.get(second)
        if row is not None:
            held = (row["concurrent"], row["views"], row["uniques"])
        out[second] = held
    return out


def concurrent(events: list[dict[str, Any]]) -> dict[int, int]:
    return {s: numbers[0] for s, numbers in seconds(events).items()}


# --- the rules, one by one ------------------------------------------------------------


def test_a_session_stays_online_until_the_timeout_of_its_last_heartbeat():
    got = concurrent(
        [session("join", 1_000), session("heartbeat", 11_000), session("join", 60_000, "b")]
    )
    assert got[1] == 1 and got[40] == 1  # online at 11 s + 30 s - 1 s
    assert got[41] == 0 and got[59] == 0


def test_a_heartbeat_exactly_at_the_timeout_leaves_no_gap():
    got = concurrent(
        [session("join", 1_000), session("heartbeat", 31_000), session("join", 90_000, "b")]
    )
    assert got[31] == 1 and got[60] == 1 and got[61] == 0


def test_a_leave_ends_the_session_at_its_instant():
    got = concurrent(
        [session("join", 1_000), session("leave", 5_000), session("join", 20_000, "b")]
    )
    assert got[4] == 1 and got[5] == 0 and got[19] == 0


@pytest.mark.parametrize("order", [("heartbeat", "leave"), ("leave", "heartbeat")])
def test_a_heartbeat_at_the_instant_of_a_leave_is_cancelled_in_either_order(order):
    first, second = (session(kind, 5_000) for kind in order)
    got = concurrent([session("join", 1_000), first, second, session("join", 20_000, "b")])
    assert got[5] == 0 and got[19] == 0


def test_a_heartbeat_after_a_leave_brings_the_session_back_and_is_one_view():
    events = [session("join", 1_000), session("leave", 3_000), session("heartbeat", 8_000)]
    got = seconds([*events, session("join", 20_000, "b")])
    assert got[3][0] == 0 and got[8][0] == 1
    assert got[19] == (1, 1, 1)


def test_a_repeated_heartbeat_from_before_the_leave_does_not_reopen():
    events = [session("join", 1_000), session("heartbeat", 2_000), session("leave", 3_000)]
    got = concurrent([*events, session("heartbeat", 2_000), session("join", 20_000, "b")])
    assert got[19] == 0


def test_a_late_leave_ends_its_session_from_the_seconds_still_open():
    # Not exact: by the definition "a" is offline from 5 s on, but 5-11 s were closed.
    events = [session("join", 1_000), session("join", 12_000, "b"), session("leave", 5_000)]
    got = concurrent([*events, session("join", 20_000, "c")])
    assert got[5] == 1 and got[11] == 1
    assert got[12] == 1 and got[19] == 1  # "b" alone


def test_a_late_heartbeat_whose_timeout_passed_is_a_view_but_never_online():
    events = [session("join", 100_000, "b"), session("heartbeat", 1_000, "a", viewer="va")]
    got = seconds([*events, session("join", 200_000, "c")])
    assert got[199] == (0, 2, 2)


def test_uniques_count_viewers_and_sessions_without_one():
    events = [
        session("join", 1_000, "s1", viewer="v1"),
        session("join", 1_000, "s2", viewer="v1"),
        session("join", 1_000, "s3"),
        session("heartbeat", 5_000, "s1", viewer="v1"),
        session("join", 9_000, "s4"),
    ]
    assert seconds(events)[8] == (3, 3, 2)


def test_reports_count_for_120_seconds_and_their_largest_totals():
    events = [
        report(1_000, 50, cumulative=400, uniques=300),
        report(3_000, 70, cumulative=380, uniques=310),
        report(3_000, 60),
        report(200_000, 0),
    ]
    got = seconds(events)
    assert got[2] == (50, 400, 300)
    assert got[3] == (70, 400, 310)  # two reports of one instant: the larger concurrent
    assert got[122] == (70, 400, 310) and got[123] == (0, 400, 310)


def test_only_seconds_whose_numbers_changed_are_rows():
    state = DictState()
    apply_event(state, session("join", 1_000))
    rows = apply_event(state, session("join", 100_000, "b"))
    assert [(r["second"], r["concurrent"]) for r in rows] == [(1, 1), (31, 0)]
    assert [r["second"] for r in apply_event(state, session("heartbeat", 101_000, "b"))] == [100]
    assert apply_event(state, session("heartbeat", 102_000, "b")) == []


def test_records_and_bundles_become_batches_of_events_with_their_partner():
    batch = {
        "v": 1,
        "platform": "p1",
        "received_at": 9,
        "timeout_ms": 45_000,
        "events": [{"ts": 1}],
    }
    assert record_batches(batch) == [batch]
    assert record_batches({"v": 2, "batches": [batch, batch]}) == [batch, batch]
    assert batch_events(batch) == [{"ts": 1, "platform": "p1", "timeout_ms": 45_000}]
    no_timeout = {"platform": "p2", "events": [{"ts": 2}]}
    assert batch_events(no_timeout)[0]["timeout_ms"] == TIMEOUT


def test_repartition_topics_are_told_by_their_group():
    assert is_repartition_topic(
        "repartition__bench-quix-1a--bench.agg.events--partner", "bench-quix-1a"
    )
    assert not is_repartition_topic("repartition__bench-quix-1ab--x--partner", "bench-quix-1a")
    assert not is_repartition_topic("changelog__bench-quix-1a--x--default", "bench-quix-1a")


def test_exact_totals_count_distinct_sessions_viewers_and_largest_reports():
    batches = [
        Batch("p1", ((0, session("join", 0, "s1", "v1")), (5, session("leave", 0, "s2", "v1")))),
        Batch("p1", ((9, session("heartbeat", 0, "s1", "v1")),), duplicate=True),
        Batch("p2", ((0, report(0, 5, 100, 40)), (9, report(0, 7, 90, 50)))),
    ]
    assert exact_totals(batches) == {"p1": (2, 1), "p2": (100, 50)}


# --- against the definitions ----------------------------------------------------------

KINDS = st.sampled_from(["join", "heartbeat", "heartbeat", "leave"])
EVENTS = st.lists(
    st.tuples(st.integers(0, 90_000), KINDS, st.sampled_from("abcd"), st.sampled_from("xyz")),
    min_size=1,
    max_size=40,
)


def online_by_definition(events: list[dict[str, Any]], t: int) -> int:
    """docs/metrics.md: sessions with a start h <= t < h + timeout and no leave in [h, t]."""
    count = 0
    for sid in {e["session_id"] for e in events}:
        mine = [e for e in events if e["session_id"] == sid]
        leaves = [e["ts"] for e in mine if e["type"] == "leave"]
        count += any(
            e["ts"] <= t < e["ts"] + TIMEOUT and not any(e["ts"] <= lv <= t for lv in leaves)
            for e in mine
            if e["type"] != "leave"
        )
    return count


@given(EVENTS)
def test_in_time_order_every_second_is_as_the_definition_says(raw):
    events = sorted(
        (session(kind, ts, sid, viewer=f"{viewer}{sid}") for ts, kind, sid, viewer in raw),
        key=lambda e: e["ts"],
    )
    events.append(session("join", 200_000, "end"))  # closes every second before it
    for second, (online, views, uniques) in seconds(events).items():
        before = [e for e in events if e["ts"] <= second * 1000]
        assert online == online_by_definition(before, second * 1000), second
        assert views == len({e["session_id"] for e in before})
        assert uniques == len({e["viewer_id"] for e in before})


@given(EVENTS, st.randoms(use_true_random=False))
def test_in_any_order_with_duplicates_views_and_uniques_are_exact(raw, rng: random.Random):
    logged = [(ts, session(kind, 0, sid, viewer=viewer)) for ts, kind, sid, viewer in raw]
    delivered = logged + rng.sample(logged, k=len(logged) // 2)
    rng.shuffle(delivered)
    state = DictState()
    totals: dict[str, tuple[int, int]] = {}
    for ts, event in delivered:
        apply_event(state, {**event, "ts": ts, "platform": "p"}, totals)
    want = exact_totals([Batch("p", tuple(logged))])["p"]
    assert (state.get("views"), state.get("uniques")) == want == totals["p"]
    online = sum(1 for k, v in state.data.items() if k.startswith("s:") and orjson.loads(v)[1])
    assert state.get("open", 0) == online
