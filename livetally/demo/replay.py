"""Replays the carnival audience through the ingest API, in (compressed) real time."""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

from contract.registry import new_secret
from contract.settings import Settings
from livetally.client import Client, ClientError
from livetally.demo.audience import AudienceModel, AudienceParams
from livetally.demo.carnival import PARTNERS, STARTS_AT, STREAM, partner_record
from livetally.exceptions import LivetallyError, ProcessFailed

__all__ = ["ReplayProgress", "progress_path", "register_demo", "run_replay", "wait_ready"]

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
"""Most events in one request."""
FLUSH_INTERVAL_S = 0.2
"""Longest an event waits in a buffer before it is posted."""
KEY_GRACE_S = 30.0
"""How long a freshly registered key may be refused while ingest catches up with the registry."""


@dataclass
class ReplayProgress:
    """What ``replay.json`` holds."""

    speed: float
    scale: float
    sim_time: str = STARTS_AT.isoformat()
    elapsed_s: float = 0.0
    events_sent: int = 0
    sessions_started: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    done: bool = False
    stopped: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The JSON document written to ``replay.json``."""
        with self.lock:
            return {
                "sim_time": self.sim_time,
                "elapsed_s": round(self.elapsed_s, 1),
                "events_sent": self.events_sent,
                "sessions_started": self.sessions_started,
                "accepted": self.accepted,
                "rejected": self.rejected,
                "speed": self.speed,
                "scale": self.scale,
                "done": self.done,
                "stopped": self.stopped,
                "failed": self.failed,
            }


def progress_path(settings: Settings) -> Path:
    """Where the replay writes its progress."""
    return settings.home / "run" / "replay.json"


def _write_progress(path: Path, progress: ReplayProgress) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_bytes(orjson.dumps(progress.as_dict()))
    os.replace(tmp, path)


def register_demo(settings: Settings) -> dict[str, str]:
    """Register the carnival stream and its partners with new keys; return the keys.

    The keys live only in the returned mapping: they are never written or logged.
    """
    from livetally import admin

    admin.register_stream(settings, STREAM)
    keys: dict[str, str] = {}
    for partner in PARTNERS:
        key = new_secret("ltk")
        admin.register(settings, partner_record(partner, key))
        keys[partner.id] = key
    return keys


def wait_ready(base_url: str, timeout_s: float = 120.0) -> None:
    """Wait until ingest's ``/readyz`` answers 200; ``ProcessFailed`` after ``timeout_s``."""
    import httpx

    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{base_url}/readyz", timeout=2.0)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.5)
    raise ProcessFailed(f"ingest at {base_url} was not ready after {timeout_s:.0f} s ({last})")


class _Sender(threading.Thread):
    """Posts one partner's batches in order, stamping each event with the real time."""

    def __init__(self, partner: str, client: Client, progress: ReplayProgress) -> None:
        super().__init__(name=f"send-{partner}", daemon=True)
        self.partner = partner
        self.batches: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=40)
        self._client = client
        self._progress = progress
        self._started = time.monotonic()

    def run(self) -> None:
        try:
            while (batch := self.batches.get()) is not None:
                self._post(batch)
        finally:
            self._client.close()

    def _post(self, batch: list[dict[str, Any]]) -> None:
        while True:
            now_ms = time.time_ns() // 1_000_000
            for event in batch:
                event["ts"] = now_ms
            try:
                result = self._client.post_batch(batch)
            except ClientError as exc:
                young = time.monotonic() - self._started < KEY_GRACE_S
                if exc.status in (401, 403) and young:
                    time.sleep(0.5)  # ingest has not seen the new key yet
                    continue
                logger.error("%s: %d events not sent: %s", self.partner, len(batch), exc)
                with self._progress.lock:
                    self._progress.failed += len(batch)
                return
            with self._progress.lock:
                self._progress.events_sent += len(batch)
                self._progress.accepted += result.accepted
                self._progress.rejected += len(result.rejected)
            for rejected in result.rejected[:3]:
                logger.warning("%s: rejected %s: %s", self.partner, rejected.code, rejected.detail)


def _replay(
    model: AudienceModel,
    senders: Mapping[str, _Sender],
    progress: ReplayProgress,
    *,
    speed: float,
    stop: threading.Event,
    on_tick: Callable[[], None],
) -> bool:
    """Feed due events to the senders until the model ends or ``stop`` is set.

    Returns True when every event of the broadcast was handed on.
    """
    buffers: dict[str, list[dict[str, Any]]] = {pid: [] for pid in senders}
    events = model.events()
    pending = next(events, None)
    started = time.monotonic()
    next_flush = started + FLUSH_INTERVAL_S
    next_tick = started + 1.0

    def dispatch(pid: str) -> None:
        senders[pid].batches.put(buffers[pid])
        buffers[pid] = []

    while pending is not None and not stop.is_set():
        now = time.monotonic()
        sim_ms = (now - started) * speed * 1000.0
        taken = 0
        while pending is not None and pending[0] <= sim_ms and taken < 5000:
            _, pid, event = pending
            buffer = buffers[pid]
            buffer.append(event)
            if len(buffer) >= BATCH_SIZE:
                dispatch(pid)
            pending = next(events, None)
            taken += 1
        if now >= next_flush:
            for pid, buffer in buffers.items():
                if buffer:
                    dispatch(pid)
            next_flush = now + FLUSH_INTERVAL_S
        if now >= next_tick:
            with progress.lock:
                progress.elapsed_s = now - started
                progress.sim_time = (STARTS_AT + timedelta(milliseconds=sim_ms)).isoformat()
                progress.sessions_started = model.sessions_started
            on_tick()
            next_tick = now + 1.0
        if pending is not None and pending[0] > sim_ms:
            due_s = (pending[0] - sim_ms) / 1000.0 / speed
            stop.wait(max(0.0, min(due_s, next_flush - now, next_tick - now)))
    for pid, buffer in buffers.items():
        if buffer:
            dispatch(pid)
    with progress.lock:
        progress.elapsed_s = time.monotonic() - started
        progress.sessions_started = model.sessions_started
        if pending is None:
            end = STARTS_AT + timedelta(seconds=model.params.duration_s)
            progress.sim_time = end.isoformat()
    return pending is None


def run_replay(settings: Settings, *, speed: float, scale: float) -> None:
    """Register the carnival, then post its audience to ingest until the broadcast ends.

    Simulated time runs ``speed`` times faster than real time; every event is stamped with
    the real time it is sent, so the live dashboard moves. SIGTERM stops it cleanly.
    """
    if not speed > 0:
        raise LivetallyError(f"speed must be a positive number, got {speed}")
    if not scale > 0:
        raise LivetallyError(f"scale must be a positive number, got {scale}")
    from ingest.config import IngestConfig

    base_url = IngestConfig.from_env().base_url
    path = progress_path(settings)
    progress = ReplayProgress(speed=speed, scale=scale)
    _write_progress(path, progress)
    keys = register_demo(settings)
    logger.info("registered %s and %d partners", STREAM.id, len(keys))
    wait_ready(base_url)

    stop = threading.Event()
    installed = threading.current_thread() is threading.main_thread()
    previous: Any = signal.getsignal(signal.SIGTERM)
    if installed:

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_sigterm)
    senders = {
        pid: _Sender(pid, Client(base_url, key, batch_size=BATCH_SIZE), progress)
        for pid, key in keys.items()
    }
    del keys
    for sender in senders.values():
        sender.start()
    model = AudienceModel(AudienceParams(scale=scale))
    logger.info("replaying at speed %s, scale %s to %s", speed, scale, base_url)
    finished = False
    try:
        finished = _replay(
            model,
            senders,
            progress,
            speed=speed,
            stop=stop,
            on_tick=lambda: _write_progress(path, progress),
        )
    finally:
        for sender in senders.values():
            sender.batches.put(None)
        for sender in senders.values():
            sender.join(timeout=30)
        with progress.lock:
            progress.stopped = stop.is_set()
            progress.done = finished
        _write_progress(path, progress)
        if installed:
            signal.signal(signal.SIGTERM, previous)
    logger.info("replay %s: %s", "stopped" if stop.is_set() else "done", progress.as_dict())
