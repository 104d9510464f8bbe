"""Replays the carnival audience through the ingest API, in (compressed) real time."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

from contract.registry import new_secret
from contract.registry_actions import KEY_PREFIX
from contract.settings import Settings
from livetally.client import Client, ClientError
from livetally.demo.audience import AudienceModel, AudienceParams
from livetally.demo.carnival import PARTNERS, PROGRAMME, STARTS_AT, STREAM, partner_record
from livetally.exceptions import LivetallyError, ProcessFailed

__all__ = ["ReplayProgress", "progress_path", "register_demo", "run_replay", "wait_ready"]

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
"""Most events in one request."""
FLUSH_INTERVAL_S = 0.2
"""Longest an event waits in a buffer before it is posted."""
MAX_LAG_S = 2.0
"""How far the replay may fall behind its clock before the simulated clock slows down."""
KEY_GRACE_S = 30.0
"""How long a freshly registered key may be refused while ingest catches up with the registry."""


@dataclass
class ReplayProgress:
    """What ``replay.json`` holds."""

    speed: float
    scale: float
    sim_ms: int = 0
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
                "sim_time": _sim_time(self.sim_ms),
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


def _sim_time(sim_ms: int) -> str:
    moment = STARTS_AT + timedelta(milliseconds=sim_ms)
    return moment.replace(microsecond=0).isoformat()


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
    from livetally.registry_topic import register

    keys = {partner.id: new_secret(KEY_PREFIX) for partner in PARTNERS}
    records = [partner_record(partner, keys[partner.id]) for partner in PARTNERS]
    register(settings, STREAM, *records)
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
        self._created = time.monotonic()

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
                young = time.monotonic() - self._created < KEY_GRACE_S
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
            return


def _replay(
    model: AudienceModel,
    senders: Mapping[str, _Sender],
    progress: ReplayProgress,
    *,
    speed: float,
    stop: threading.Event,
    max_lag_s: float = MAX_LAG_S,
) -> bool:
    """Feed due events to the senders until the model ends or ``stop`` is set.

    When ingest cannot keep up, the simulated clock slows down instead of piling up a
    backlog, so every session's heartbeats stay as far apart as ``speed`` says.
    Returns True when every event of the broadcast was handed on.
    """
    buffers: dict[str, list[dict[str, Any]]] = {pid: [] for pid in senders}
    events = model.events()
    pending = next(events, None)
    anchor = time.monotonic()  # the real moment of simulated offset 0 (moves when lagging)
    next_flush = anchor + FLUSH_INTERVAL_S
    next_note = anchor
    last_ms = 0

    def dispatch(pid: str, give_up: threading.Event | float) -> None:
        batch, buffers[pid] = buffers[pid], []
        while True:
            try:
                senders[pid].batches.put(batch, timeout=0.2)
                return
            except queue.Full:
                if isinstance(give_up, threading.Event):
                    if give_up.is_set():
                        return
                elif time.monotonic() > give_up:
                    logger.warning("%s: %d events not sent at shutdown", pid, len(batch))
                    return

    while pending is not None and not stop.is_set():
        now = time.monotonic()
        sim_ms = (now - anchor) * speed * 1000.0
        taken = 0
        while pending is not None and pending[0] <= sim_ms and taken < 5000:
            last_ms, pid, event = pending
            buffer = buffers[pid]
            buffer.append(event)
            if len(buffer) >= BATCH_SIZE:
                dispatch(pid, stop)
            pending = next(events, None)
            taken += 1
        now = time.monotonic()
        if now >= next_flush:
            for pid, buffer in buffers.items():
                if buffer:
                    dispatch(pid, stop)
            next_flush = now + FLUSH_INTERVAL_S
        if now >= next_note:
            with progress.lock:
                progress.sim_ms = last_ms
                progress.sessions_started = model.sessions_started
            next_note = now + 0.5
        if pending is None:
            break
        behind_s = ((now - anchor) * speed * 1000.0 - pending[0]) / 1000.0 / speed
        if behind_s > max_lag_s:
            anchor += behind_s - max_lag_s
        elif behind_s < 0:
            stop.wait(min(-behind_s, max(0.0, next_flush - now)))
    deadline = time.monotonic() + 10.0
    for pid, buffer in buffers.items():
        if buffer:
            dispatch(pid, deadline)
    with progress.lock:
        progress.sessions_started = model.sessions_started
        progress.sim_ms = model.params.duration_s * 1000 if pending is None else last_ms
    return pending is None


class _ProgressWriter(threading.Thread):
    """Writes ``replay.json`` every second, whatever the replay loop is waiting for."""

    def __init__(self, path: Path, progress: ReplayProgress) -> None:
        super().__init__(name="progress", daemon=True)
        self.path = path
        self.progress = progress
        self.finished = threading.Event()
        self._t0 = time.monotonic()

    def write(self) -> None:
        with self.progress.lock:
            self.progress.elapsed_s = time.monotonic() - self._t0
        _write_progress(self.path, self.progress)

    def run(self) -> None:
        while not self.finished.wait(1.0):
            try:
                self.write()
            except OSError as exc:
                logger.warning("cannot write %s: %s", self.path, exc)


class _ProgrammeDesk(threading.Thread):
    """Enters the demo's programme as the replay reaches each segment: the segment starts
    at the real moment its simulated time comes, and lasts until the next one starts."""

    def __init__(self, settings: Settings, progress: ReplayProgress) -> None:
        super().__init__(name="programme", daemon=True)
        self.settings = settings
        self.progress = progress
        self.finished = threading.Event()

    def run(self) -> None:
        from contract.registry import Segment, record_key
        from contract.registry_store import RegistryStore

        store = RegistryStore(self.settings.kafka)
        try:
            for old in store.load().programme(STREAM.id):  # an earlier replay's
                store.delete(record_key(old))
            last_start = 0
            for item in PROGRAMME:
                while not self.finished.is_set():
                    with self.progress.lock:
                        reached = self.progress.sim_ms >= item.offset_s * 1000
                    if reached:
                        break
                    self.finished.wait(0.5)
                if self.finished.is_set():
                    return
                # Two segments never start in the same second, however fast the replay.
                start = max(int(time.time()), last_start + 1)
                store.put(Segment(item.id, STREAM.id, start, item.title, item.title_en))
                last_start = start
                logger.info("programme: %s (%s)", item.title_en, item.id)
        except Exception:  # the programme is decoration; the replay goes on without it
            logger.exception("could not enter the demo's programme")


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

    # Per-request and per-connection INFO lines would drown the replay's log.
    for noisy in ("httpx", "httpcore", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
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
    writer = _ProgressWriter(path, progress)
    writer.start()
    desk = _ProgrammeDesk(settings, progress)
    desk.start()
    finished = False
    try:
        finished = _replay(model, senders, progress, speed=speed, stop=stop)
    finally:
        for sender in senders.values():
            with contextlib.suppress(queue.Full):  # a stuck sender is a daemon: left behind
                sender.batches.put(None, timeout=5)
        for sender in senders.values():
            sender.join(timeout=15)
        writer.finished.set()
        writer.join()
        desk.finished.set()
        desk.join(timeout=5)
        with progress.lock:
            progress.stopped = stop.is_set()
            progress.done = finished
        writer.write()
        if installed:
            signal.signal(signal.SIGTERM, previous)
    logger.info("replay %s: %s", "stopped" if stop.is_set() else "done", progress.as_dict())
