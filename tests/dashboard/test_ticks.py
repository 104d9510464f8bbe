"""The per-snapshot memo: one computation per key, bounded, shared across threads."""

from __future__ import annotations

import threading
import time

from dashboard.model import Snapshot
from dashboard.ticks import TickMemo


def test_a_key_is_computed_once_and_then_shared():
    memo = TickMemo(size=2)
    calls: list[str] = []

    def compute(name: str) -> str:
        calls.append(name)
        return name.upper()

    assert memo.get("a", lambda: compute("a")) == "A"
    assert memo.get("a", lambda: compute("again")) == "A"
    assert calls == ["a"] and (memo.hits, memo.misses) == (1, 1)


def test_the_oldest_key_goes_first_once_full():
    memo = TickMemo(size=2)
    for key in ("a", "b"):
        memo.get(key, lambda k=key: k)
    memo.get("a", lambda: "stale")  # touched: "b" is now the oldest
    memo.get("c", lambda: "c")
    assert memo.get("b", lambda: "new b") == "new b"
    assert memo.get("a", lambda: "new a") == "new a"  # evicted by "b" coming back


def test_threads_asking_at_once_wait_for_one_computation():
    memo = TickMemo()
    calls: list[int] = []
    seen: list[object] = []
    start = threading.Barrier(8)

    def compute() -> object:
        calls.append(1)
        time.sleep(0.2)  # long enough for every thread to ask meanwhile
        return object()

    def work() -> None:
        start.wait(timeout=5)
        seen.append(memo.get("k", compute))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(seen) == 8 and all(value is seen[0] for value in seen)
    assert (memo.misses, memo.hits) == (1, 7)


def test_a_failed_computation_is_not_kept_and_waiters_compute_themselves():
    memo = TickMemo()

    def boom() -> object:
        raise RuntimeError("no")

    try:
        memo.get("k", boom)
    except RuntimeError:
        pass
    assert memo.get("k", lambda: "fine") == "fine"


def test_each_snapshot_has_its_own_memo():
    first, second = Snapshot(version=1), Snapshot(version=1)
    first.memo.get("k", lambda: "first")
    assert second.memo.get("k", lambda: "second") == "second"
    assert first == second  # the memo takes no part in comparing snapshots


def test_whole_charts_are_shared_by_the_snapshots_of_one_source_within_a_slot(app_and_data):
    import importlib

    from dashboard.data import StreamState
    from tests.dashboard.builders import T0, chunk, registry

    live = importlib.import_module("dashboard.pages.live")
    state, recent = StreamState(), TickMemo()
    state.put_chunk(chunk("douyin", 0, {T0: (3, 3, 3)}))
    first = state.build(registry(), 1, recent)
    state.put_chunk(chunk("douyin", 0, {T0: (3, 3, 3), T0 + 1: (1, 1, 1)}))
    second = state.build(registry(), 2, recent)
    drawn = live.chart_update(first, None, "en", "lines", None, T0 + 5)
    assert live.chart_update(second, None, "en", "lines", None, T0 + 7) is drawn  # one slot
    later = live.chart_update(second, None, "en", "lines", None, T0 + 10)
    assert later is not drawn and later[2]["version"] == 2
