"""The stats record: one partition's monitor figures for a partner, and the feed status.

The worker publishes one record per (stream, partner, partition) to the compacted stats
topic under ``stats_key``; the dashboard and the alert monitor combine the partitions'
records. A feed's status (live, stale, offline) is judged from the newest *arrival*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import orjson

from contract.keys import join_key, split_key

__all__ = [
    "OFFLINE_AFTER_MS",
    "STALE_AFTER_MS",
    "PartitionStats",
    "Status",
    "decode_stats",
    "encode_stats",
    "feed_status",
    "parse_stats",
    "parse_stats_key",
    "stats_key",
]

Status = Literal["live", "stale", "offline"]
STALE_AFTER_MS = 30_000
"""A feed is live while its newest event arrived less than this long ago, then stale."""
OFFLINE_AFTER_MS = 300_000
"""A stale feed is offline once its newest event arrived this long ago."""


@dataclass(frozen=True, slots=True)
class PartitionStats:
    """Monitor figures of one (stream, partner) in one partition of the events topic."""

    stream: str
    platform: str
    partition: int
    last_event_ts: int | None
    last_arrival: int | None
    events: int
    rejected: int
    recent_as_of: int | None = None
    """The event time the two figures below refer to (``stream.churn``)."""
    recent_offline_sessions: int = 0
    """Sessions started in the 5 min before ``recent_as_of`` and offline at it."""
    recent_single_event_offline: int = 0
    """Those of them that had a single event."""


def stats_key(stats: PartitionStats) -> bytes:
    """The compacted-topic key of one partition's monitor figures for a partner."""
    return join_key(stats.stream, stats.platform, stats.partition)


def parse_stats_key(key: bytes | None) -> tuple[str, str, int]:
    """(stream, partner, partition) of a stats key; ``ValueError`` if malformed."""
    stream, platform, partition = split_key(key, 3, "stats")
    return stream, platform, int(partition)


def encode_stats(stats: PartitionStats) -> bytes:
    """The stats record's value."""
    return orjson.dumps(
        {
            "stream": stats.stream,
            "platform": stats.platform,
            "partition": stats.partition,
            "last_event_ts": stats.last_event_ts,
            "last_arrival": stats.last_arrival,
            "events": stats.events,
            "rejected": stats.rejected,
            "recent_as_of": stats.recent_as_of,
            "recent_offline_sessions": stats.recent_offline_sessions,
            "recent_single_event_offline": stats.recent_single_event_offline,
        }
    )


def _int_or_none(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number or null, got {value!r}")
    return int(value)


def _count(doc: dict[str, object], name: str) -> int:
    return _int_or_none(doc.get(name, 0)) or 0


def parse_stats(doc: object) -> PartitionStats:
    """Check and convert one decoded stats record; ``ValueError`` says what is wrong.

    Counts absent from a record default to 0, and the churn figures to none (records
    written before they existed).
    """
    if not isinstance(doc, dict):
        raise ValueError("stats record is not an object")
    try:
        return PartitionStats(
            stream=str(doc["stream"]),
            platform=str(doc["platform"]),
            partition=int(doc["partition"]),
            last_event_ts=_int_or_none(doc.get("last_event_ts")),
            last_arrival=_int_or_none(doc.get("last_arrival")),
            events=_count(doc, "events"),
            rejected=_count(doc, "rejected"),
            recent_as_of=_int_or_none(doc.get("recent_as_of")),
            recent_offline_sessions=_count(doc, "recent_offline_sessions"),
            recent_single_event_offline=_count(doc, "recent_single_event_offline"),
        )
    except KeyError as exc:
        raise ValueError(f"stats record lacks {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad stats record: {exc}") from None


def decode_stats(value: bytes) -> PartitionStats:
    """Parse a stats record's value; ``ValueError`` says what is wrong with it."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"stats record is not JSON: {exc}") from None
    return parse_stats(doc)


def feed_status(
    last_arrival_ms: int | None,
    now_ms: int,
    *,
    stale_after_ms: int = STALE_AFTER_MS,
    offline_after_ms: int = OFFLINE_AFTER_MS,
) -> Status:
    """live under 30 s since the newest event arrived, stale under 5 min, else offline."""
    if last_arrival_ms is None:
        return "offline"
    age = now_ms - last_arrival_ms
    if age < stale_after_ms:
        return "live"
    if age < offline_after_ms:
        return "stale"
    return "offline"
