"""Two workers sharing the partitions, and events up to 23 h late: numbers stay exact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

import tests.integration.test_pipeline as pipeline
from tests.conftest import Stack, free_port, wait_healthy
from tests.integration.test_pipeline import actual_at, make_log, post_all, summary, wait_exact
from tests.oracle import numbers

pytestmark = pytest.mark.integration

STREAMS = ("w4-rebalance", "w4-late")


def register(stack: Stack, streams: tuple[str, ...]) -> dict[str, str]:
    """Register ``streams``, the ``web``/``tv`` partners the log helpers use (re-registered:
    a key is only shown once) and a viewer token; return the keys and the token."""
    for stream in streams:
        stack.cli("stream", "add", stream, "--title", stream, "--tz", "Asia/Shanghai")
    out = {
        "web": stack.cli(
            "partner", "add", "web", "--name", "网站", "--replace"
        ).stdout.splitlines()[-1],
        "tv": stack.cli(
            "partner", "add", "tv", "--name", "电视", "--mode", "reports", "--replace"
        ).stdout.splitlines()[-1],
        "token": stack.cli("token", "create", "--role", "viewer").stdout.splitlines()[-1],
    }
    time.sleep(5.5)  # services pick registry changes up within 5 s
    return out


@pytest.fixture(scope="module")
def keys(stack: Stack) -> dict[str, str]:
    """This module's streams, partner keys and token."""
    return register(stack, STREAMS)


def use_stream(monkeypatch: pytest.MonkeyPatch, stream: str) -> None:
    # The shared helpers post to and read ``test_pipeline.STREAM``; point them at ours.
    monkeypatch.setattr(pipeline, "STREAM", stream)


@pytest.fixture
def second_worker(stack: Stack) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Another worker process in the same consumer group (same app id), on its own port."""
    port = free_port()
    env = {**stack.env, "LIVETALLY_WORKER_PORT": str(port)}
    log_path = stack.logs / "worker-2.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "livetally", "serve", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        wait_healthy(url, proc, log_path)
        yield proc, url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def test_a_worker_joining_and_leaving_during_posting_changes_no_number(
    stack: Stack, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch, request
):
    use_stream(monkeypatch, "w4-rebalance")
    base = (int(time.time() * 1000) - 1_800_000) // 1000 * 1000
    log = make_log(seed=41, base_ms=base, sessions=45)
    third = len(log) // 3
    post_all(stack, keys, log[:third], seed=411)
    worker, url = request.getfixturevalue("second_worker")
    post_all(stack, keys, log[third : 2 * third], seed=412)
    # The newcomer took over some partitions (and built their states).
    deadline = time.monotonic() + 60
    while not httpx.get(url, timeout=5).json()["partitions"]:
        assert time.monotonic() < deadline, "the second worker never got a partition"
        post_all(stack, keys, log[third : 2 * third], seed=414)  # resending changes nothing
        time.sleep(1)
    # Leave the group cleanly while events keep coming: partitions move back.
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=60)
    post_all(stack, keys, log[2 * third :], seed=413)
    instants = [base + d for d in (0, 12_000, 30_500, 47_000, 75_000, 120_000)]
    wait_exact(stack, keys["token"], log, instants)


def test_events_up_to_23_hours_late_revise_past_seconds_exactly(
    stack: Stack, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
):
    use_stream(monkeypatch, "w4-late")
    now = int(time.time() * 1000) // 1000 * 1000
    recent = make_log(seed=42, base_ms=now - 900_000, sessions=20)
    post_all(stack, keys, recent, seed=421)
    # Then, after the newer ones, events from 2 h and 23 h ago.
    old = make_log(seed=43, base_ms=now - 23 * 3_600_000, sessions=20)
    older = make_log(seed=44, base_ms=now - 2 * 3_600_000, sessions=20)
    post_all(stack, keys, old + older, seed=431)
    log = recent + old + older
    instants = [
        now - 23 * 3_600_000 + 20_000,
        now - 23 * 3_600_000 + 61_000,
        now - 2 * 3_600_000 + 33_000,
        now - 900_000 + 45_000,
        now - 800_000,
    ]
    # The log spans 23 h, too long for the oracle's brute-force peak: compare the numbers.
    events = set(log)
    want = {}
    for t in instants:
        per = {p: numbers(events, p, t // 1000 * 1000) for p in ("web", "tv")}
        total = tuple(sum(v[i] for v in per.values()) for i in range(3))
        want[t] = (per, total)
    deadline = time.monotonic() + 60
    while True:
        got = {}
        for t in instants:
            doc = actual_at(summary(stack, keys["token"], t))
            got[t] = ({p: doc["platforms"].get(p) for p in ("web", "tv")}, doc["total"])
        if got == want:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"got {got} want {want}")
        time.sleep(1)
