"""The per-snapshot memo: one computation per key, bounded, shared across threads."""

from __future__ import annotations

import threading

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


def test_threads_that_compute_at_once_all_get_the_first_stored_value():
    memo = TickMemo()
    ready = threading.Barrier(8)
    seen: list[object] = []

    def compute() -> object:
        ready.wait(timeout=5)  # every thread is computing before any stores
        return object()

    def work() -> None:
        seen.append(memo.get("k", compute))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 and all(value is seen[0] for value in seen)
    assert memo.misses == 8 and memo.get("k", object) is seen[0]


def test_each_snapshot_has_its_own_memo():
    first, second = Snapshot(version=1), Snapshot(version=1)
    first.memo.get("k", lambda: "first")
    assert second.memo.get("k", lambda: "second") == "second"
    assert first == second  # the memo takes no part in comparing snapshots
