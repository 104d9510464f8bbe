"""The suite's event log: the carnival audience, seeded, cut into partner batches.

Batches hold up to 500 events of one partner in time order, the way a partner's client
posts them. A seeded share of batches is delivered after the batch that follows it (out
of order) and another share is delivered a second time a few batches later (a retry), so
the pipeline is measured on the traffic it is built for. The same parameters always give
the same batches, byte for byte.
"""

from __future__ import annotations

import itertools
import random
import struct
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from contract.events import Event
from contract.packing import OutRecord, pack_events
from contract.records import DEFAULT_TIMEOUT_MS, partition_key
from livetally.demo.audience import AudienceModel, AudienceParams
from livetally.demo.carnival import DURATION_S, PARTNERS, STREAM

__all__ = [
    "Batch",
    "LogParams",
    "batch_events",
    "body_batch",
    "batch_records",
    "encode_body",
    "iter_batches",
    "read_log",
    "session_batches",
    "take_events",
    "textbook_records",
    "write_log",
]

LoggedEvent = tuple[int, dict[str, Any]]
"""``(offset from the start of the evening in ms, event without ts)``."""


@dataclass(frozen=True)
class LogParams:
    """Everything that decides the log."""

    scale: float
    """Audience scale (1 = the real evening)."""
    seed: int = 20241221
    """Seed of the audience and of the reordering and duplicates."""
    batch_size: int = 500
    """Most events in one batch."""
    max_wait_ms: int = 300_000
    """A partner's batch is sent once its oldest event is this old (simulated time)."""
    reorder_share: float = 0.05
    """Share of batches delivered after the partner's next batch."""
    duplicate_share: float = 0.02
    """Share of batches delivered a second time."""
    duplicate_delay: int = 8
    """How many batches later a duplicate is delivered."""

    def __post_init__(self) -> None:
        if not self.batch_size >= 1:
            raise ValueError("batch_size must be at least 1")
        for name in ("reorder_share", "duplicate_share"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be within [0, 1)")


@dataclass(frozen=True, slots=True)
class Batch:
    """One partner's events as one request would carry them."""

    partner: str
    events: tuple[LoggedEvent, ...]
    duplicate: bool = False
    """True for the second delivery of a batch."""


def _plain_batches(params: LogParams) -> Iterator[Batch]:
    model = AudienceModel(AudienceParams(scale=params.scale, seed=params.seed))
    buffers: dict[str, list[LoggedEvent]] = {}
    next_check = 0
    for offset, partner, event in model.events():
        buffer = buffers.setdefault(partner, [])
        buffer.append((offset, event))
        if len(buffer) >= params.batch_size:
            yield Batch(partner, tuple(buffer))
            buffers[partner] = []
        if offset >= next_check:
            # Partners that post rarely still post within max_wait_ms.
            next_check = offset + 1000
            for other, waiting in buffers.items():
                if waiting and offset - waiting[0][0] >= params.max_wait_ms:
                    yield Batch(other, tuple(waiting))
                    buffers[other] = []
    for partner in sorted(buffers):
        if buffers[partner]:
            yield Batch(partner, tuple(buffers[partner]))


def iter_batches(params: LogParams) -> Iterator[Batch]:
    """The log's batches in delivery order (some swapped, some repeated)."""
    rng = random.Random(params.seed ^ 0x5EED)  # noqa: S311 - a simulation, not security
    held: dict[str, Batch] = {}
    due: deque[tuple[int, Batch]] = deque()
    delivered = 0

    def deliver(batch: Batch) -> Iterator[Batch]:
        nonlocal delivered
        yield batch
        delivered += 1
        if not batch.duplicate and rng.random() < params.duplicate_share:
            copy = Batch(batch.partner, batch.events, duplicate=True)
            due.append((delivered + params.duplicate_delay, copy))
        while due and due[0][0] <= delivered:
            yield from deliver(due.popleft()[1])

    for batch in _plain_batches(params):
        earlier = held.pop(batch.partner, None)
        if earlier is not None:
            # The partner's later batch overtakes the one held back.
            yield from deliver(batch)
            yield from deliver(earlier)
        elif rng.random() < params.reorder_share:
            held[batch.partner] = batch
        else:
            yield from deliver(batch)
    for partner in sorted(held):
        yield from deliver(held[partner])
    while due:
        yield from deliver(due.popleft()[1])


def take_events(batches: Iterable[Batch], limit: int) -> Iterator[Batch]:
    """The first batches holding at most ``limit`` events in all (the last one cut)."""
    left = limit
    for batch in batches:
        if left <= 0:
            return
        if len(batch.events) > left:
            yield Batch(batch.partner, batch.events[:left], batch.duplicate)
            return
        left -= len(batch.events)
        yield batch


def _stamped(event: dict[str, Any], ts: int, id_prefix: str) -> dict[str, Any]:
    out = dict(event)
    out["ts"] = ts
    if id_prefix:
        for name in ("session_id", "viewer_id"):
            value = out.get(name)
            if value is not None:
                out[name] = id_prefix + value
    return out


def batch_events(batch: Batch, base_ms: int, id_prefix: str = "") -> list[dict[str, Any]]:
    """The batch's events with ``ts = base_ms + offset`` and ids prefixed by ``id_prefix``.

    A different prefix gives new sessions and viewers, so one log can feed several runs
    on the same stream without their audiences merging.
    """
    return [_stamped(event, base_ms + offset, id_prefix) for offset, event in batch.events]


def encode_body(batch: Batch, base_ms: int, id_prefix: str = "") -> bytes:
    """The JSON body of ``POST /v1/events`` carrying the batch."""
    return orjson.dumps({"events": batch_events(batch, base_ms, id_prefix)})


def _event(doc: dict[str, Any]) -> Event:
    return Event(
        type=doc["type"],
        stream=doc["stream"],
        ts=doc["ts"],
        session_id=doc.get("session_id"),
        viewer_id=doc.get("viewer_id"),
        concurrent=doc.get("concurrent"),
        cumulative=doc.get("cumulative"),
        uniques=doc.get("uniques"),
    )


def batch_records(
    batch: Batch, base_ms: int, *, partitions: int, id_prefix: str = ""
) -> list[OutRecord]:
    """The events-topic records ingest would write for the batch (arriving 1 s after it)."""
    docs = batch_events(batch, base_ms, id_prefix)
    received_at = max(doc["ts"] for doc in docs) + 1000
    return pack_events(
        [_event(doc) for doc in docs],
        platform=batch.partner,
        received_at_ms=received_at,
        partitions=partitions,
        timeout_ms=DEFAULT_TIMEOUT_MS,
    )


def textbook_records(batch: Batch, base_ms: int, id_prefix: str = "") -> list[tuple[bytes, bytes]]:
    """One ``(key, value)`` record per event, as a tutorial-style Faust app consumes them."""
    out: list[tuple[bytes, bytes]] = []
    for doc in batch_events(batch, base_ms, id_prefix):
        doc["platform"] = batch.partner
        viewer = doc.get("viewer_id") or doc.get("session_id") or ""
        out.append((partition_key(doc["stream"], batch.partner, viewer), orjson.dumps(doc)))
    return out


def session_batches(
    sessions: int, *, seed: int, start: int = 0, batch_size: int = 500
) -> Iterator[Batch]:
    """Joins of sessions ``start`` .. ``start + sessions - 1``, spread over the evening.

    Used to fill the worker with that many sessions of state; half of them carry a
    viewer id, and partners get them in the carnival's proportions.
    """
    rng = random.Random(seed + start)  # noqa: S311 - a simulation, not security
    session_partners = [p for p in PARTNERS if p.mode == "sessions"]
    weights = list(itertools.accumulate(p.weight for p in session_partners))
    spacing = DURATION_S * 1000 / max(1, start + sessions)
    buffers: dict[str, list[LoggedEvent]] = {}
    for number in range(start, start + sessions):
        partner = rng.choices(session_partners, cum_weights=weights)[0].id
        event: dict[str, Any] = {
            "type": "join",
            "stream": STREAM.id,
            "session_id": f"m{number:08d}",
        }
        if rng.random() < 0.5:
            event["viewer_id"] = f"mv{number:08d}"
        buffer = buffers.setdefault(partner, [])
        buffer.append((int(number * spacing), event))
        if len(buffer) >= batch_size:
            yield Batch(partner, tuple(buffer))
            buffers[partner] = []
    for partner in sorted(buffers):
        if buffers[partner]:
            yield Batch(partner, tuple(buffers[partner]))


_HEAD = struct.Struct(">BI")


def write_log(
    path: Path, batches: Iterable[Batch], base_ms: int, id_prefix: str = ""
) -> tuple[int, int]:
    """Write each batch as ``(partner, request body)`` to ``path``; return (batches, events).

    The file is made once and read by the load generator and the pre-fills, so the log
    is generated once per run.
    """
    count = events = 0
    with path.open("wb") as out:
        for batch in batches:
            partner = batch.partner.encode()
            body = encode_body(batch, base_ms, id_prefix)
            out.write(_HEAD.pack(len(partner), len(body)))
            out.write(partner)
            out.write(body)
            count += 1
            events += len(batch.events)
    return count, events


def read_log(path: Path) -> Iterator[tuple[str, bytes]]:
    """The ``(partner, request body)`` pairs written by ``write_log``, in order."""
    with path.open("rb") as src:
        while head := src.read(_HEAD.size):
            partner_len, body_len = _HEAD.unpack(head)
            partner = src.read(partner_len).decode()
            yield partner, src.read(body_len)


def body_batch(partner: str, body: bytes) -> Batch:
    """A batch back from a request body (``ts`` kept absolute: rebase with ``base_ms=0``)."""
    docs = orjson.loads(body)["events"]
    return Batch(partner, tuple((doc.pop("ts"), doc) for doc in docs))
