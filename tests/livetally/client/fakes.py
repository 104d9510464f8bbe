"""Stand-ins for the ingest API and the clock that the SDK tests script."""

from __future__ import annotations

import gzip
import random
import subprocess
import sys
import textwrap
import threading

import httpx
import orjson

from livetally.client import Client


class FakeIngest:
    """Answers requests from a script of (status, body, headers), recording what it got."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def bodies(self):
        out = []
        for request in self.requests:
            raw = request.content
            if request.headers.get("content-encoding") == "gzip":
                raw = gzip.decompress(raw)
            out.append(orjson.loads(raw)["events"])
        return out

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else None
        if answer is None:  # default: accept everything
            n = len(self.bodies()[-1])
            return httpx.Response(202, json={"accepted": n})
        if isinstance(answer, Exception):
            raise answer
        status, body, headers = answer
        return httpx.Response(status, json=body, headers=headers)


class FakeClock:
    """A monotonic clock that stands still until a test moves it, counting who reads it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0
        self._cond = threading.Condition()

    def __call__(self) -> float:
        with self._cond:
            self.reads += 1
            self._cond.notify_all()
            return self.now

    def wait_reads(self, count: int) -> None:
        """Wait until the clock has been read ``count`` times in all."""
        with self._cond:
            assert self._cond.wait_for(lambda: self.reads >= count, timeout=10)


def make_client(fake, **kwargs):
    """A client posting to ``fake``, its sleeps recorded, never flushed at exit."""
    sleeps: list[float] = []
    kwargs.setdefault("clock", FakeClock())
    client = Client(
        "http://ingest.test/",
        "ltk_k",
        transport=httpx.MockTransport(fake),
        sleep=sleeps.append,
        rng=random.Random(0),
        flush_at_exit=False,
        **kwargs,
    )
    return client, sleeps


HEARTBEAT = {"type": "heartbeat", "stream": "s", "ts": 1, "session_id": "x"}


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` run by a fresh interpreter, its output captured."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
