"""Partial per-second count changes: their Kafka form, and merging them into exact series.

Every partition of the events topic publishes, per (stream, partner) and per minute, the
*changes* of its numbers at each whole second: ``dc`` (concurrent sessions starting minus
ending), ``dv`` (sessions first seen) and ``du`` (viewers first seen). Changes are local, so a
late event revises only the seconds it touches. Summing the chunks of all partitions and then
the changes over time gives concurrent, views and uniques at every second. Sums are exact
because no session and no viewer spans two partitions.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "Chunk",
    "Numbers",
    "PlatformDiffs",
    "Steps",
    "chunk_key",
    "decode_chunk",
    "encode_chunk",
    "sum_steps",
]

Diff = tuple[int, int, int]
_SEP = "\x1f"


@dataclass(frozen=True, slots=True)
class Chunk:
    """One partition's changes for one (stream, partner) within one minute."""

    stream: str
    platform: str
    partition: int
    minute: int
    seconds: Mapping[int, Diff]


def chunk_key(stream: str, platform: str, partition: int, minute: int) -> bytes:
    """The compacted-topic key of a chunk: the newest chunk per key is the truth."""
    return f"{stream}{_SEP}{platform}{_SEP}{partition}{_SEP}{minute}".encode()


def encode_chunk(chunk: Chunk) -> bytes:
    """Serialise a chunk (seconds as epoch seconds)."""
    return orjson.dumps(
        {
            "stream": chunk.stream,
            "platform": chunk.platform,
            "partition": chunk.partition,
            "minute": chunk.minute,
            "seconds": {str(s): list(d) for s, d in sorted(chunk.seconds.items())},
        }
    )


def decode_chunk(value: bytes) -> Chunk:
    """Parse a chunk written by ``encode_chunk``."""
    doc: dict[str, Any] = orjson.loads(value)
    seconds = {int(s): (int(d[0]), int(d[1]), int(d[2])) for s, d in doc["seconds"].items()}
    return Chunk(
        stream=str(doc["stream"]),
        platform=str(doc["platform"]),
        partition=int(doc["partition"]),
        minute=int(doc["minute"]),
        seconds=seconds,
    )


@dataclass(frozen=True, slots=True)
class Numbers:
    """The three counts at one second."""

    concurrent: int = 0
    views: int = 0
    uniques: int = 0


@dataclass
class Steps:
    """A step function of the counts: value changes at ``seconds[i]`` to ``values[i]``."""

    seconds: list[int] = field(default_factory=list)
    values: list[Numbers] = field(default_factory=list)

    def at(self, second: int) -> Numbers:
        """The counts at a whole epoch second."""
        i = bisect_right(self.seconds, second)
        return self.values[i - 1] if i else Numbers()

    def peak(self, second: int) -> tuple[int, int | None]:
        """The largest concurrent over whole seconds <= ``second`` and the earliest it held."""
        best, best_at = 0, None
        for s, value in zip(self.seconds, self.values, strict=True):
            if s > second:
                break
            if value.concurrent > best:
                best, best_at = value.concurrent, s
        return best, best_at


class PlatformDiffs:
    """The merged per-second changes of one (stream, partner) over all partitions."""

    def __init__(self) -> None:
        self._chunks: dict[tuple[int, int], Mapping[int, Diff]] = {}
        self._merged: dict[int, list[int]] = {}
        self._steps: Steps | None = None

    def put(self, chunk: Chunk) -> None:
        """Replace the chunk of (partition, minute) with a newer one."""
        slot = (chunk.partition, chunk.minute)
        for second, diff in self._chunks.get(slot, {}).items():
            self._add(second, diff, -1)
        for second, diff in chunk.seconds.items():
            self._add(second, diff, 1)
        self._chunks[slot] = chunk.seconds
        self._steps = None

    def _add(self, second: int, diff: Diff, sign: int) -> None:
        cell = self._merged.setdefault(second, [0, 0, 0])
        cell[0] += sign * diff[0]
        cell[1] += sign * diff[1]
        cell[2] += sign * diff[2]
        if cell == [0, 0, 0]:
            del self._merged[second]

    def diffs(self) -> dict[int, Diff]:
        """Non-zero merged changes by epoch second."""
        return {s: (c[0], c[1], c[2]) for s, c in self._merged.items()}

    def steps(self) -> Steps:
        """The counts as a step function (cached until the next ``put``)."""
        if self._steps is None:
            self._steps = sum_steps([self.diffs()])
        return self._steps


def sum_steps(parts: Iterable[Mapping[int, Diff]]) -> Steps:
    """Add several change maps together and integrate them over time."""
    total: dict[int, list[int]] = {}
    for part in parts:
        for second, diff in part.items():
            cell = total.setdefault(second, [0, 0, 0])
            cell[0] += diff[0]
            cell[1] += diff[1]
            cell[2] += diff[2]
    steps = Steps()
    concurrent = views = uniques = 0
    for second in sorted(total):
        dc, dv, du = total[second]
        if dc == dv == du == 0:
            continue
        concurrent += dc
        views += dv
        uniques += du
        steps.seconds.append(second)
        steps.values.append(Numbers(concurrent, views, uniques))
    return steps
