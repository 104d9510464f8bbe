"""Pure dashboard computations: snapshots of the data, summaries, series buckets, times."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from contract.instants import parse_second, rfc3339
from contract.programme import Slot, slot_at
from contract.registry import DEFAULT_TZ, Partner, Registry, Stream
from contract.series import Numbers, Steps
from contract.stats import PartitionStats, Status, feed_status
from dashboard.exceptions import BadParameter, UnknownStream
from dashboard.ticks import TickMemo

__all__ = [
    "RESOLUTIONS",
    "Bucket",
    "Figures",
    "PartnerStats",
    "PartnerSummary",
    "Resolution",
    "SeriesResult",
    "Snapshot",
    "StreamSummary",
    "aggregate_stats",
    "bucket_series",
    "current_slot",
    "figures_at",
    "parse_instant",
    "rfc3339",
    "stream_series",
    "summarize",
]

Resolution = Literal["1s", "10s", "1m", "5m", "1h"]
RESOLUTIONS: dict[str, int] = {"1s": 1, "10s": 10, "1m": 60, "5m": 300, "1h": 3600}
"""Bucket widths in seconds by resolution name."""


@dataclass(frozen=True, slots=True)
class PartnerStats:
    """Monitor figures of one (stream, partner) over all partitions."""

    last_event_ts: int | None = None
    last_arrival: int | None = None
    events: int = 0
    rejected: int = 0


def _max(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def aggregate_stats(
    records: Iterable[PartitionStats],
) -> dict[str, dict[str, PartnerStats]]:
    """Combine per-partition records: newest times are the max, counts are summed."""
    out: dict[str, dict[str, PartnerStats]] = {}
    for rec in records:
        per_stream = out.setdefault(rec.stream, {})
        old = per_stream.get(rec.platform, PartnerStats())
        per_stream[rec.platform] = PartnerStats(
            last_event_ts=_max(old.last_event_ts, rec.last_event_ts),
            last_arrival=_max(old.last_arrival, rec.last_arrival),
            events=old.events + rec.events,
            rejected=old.rejected + rec.rejected,
        )
    return out


@dataclass(frozen=True)
class Snapshot:
    """Everything the dashboard shows, at one moment; never mutated once built."""

    registry: Registry = field(default_factory=Registry)
    platforms: Mapping[str, Mapping[str, Steps]] = field(default_factory=dict)
    """Counts as step functions by stream, then partner id."""
    totals: Mapping[str, Steps] = field(default_factory=dict)
    """Counts summed over partners, by stream."""
    stats: Mapping[str, Mapping[str, PartnerStats]] = field(default_factory=dict)
    """Monitor figures by stream, then partner id."""
    version: int = 0
    """Grows whenever the data or the registry changed."""
    memo: TickMemo = field(default_factory=TickMemo, init=False, compare=False, repr=False)
    """What pages derived from this snapshot, shared by every viewer (``dashboard.ticks``)."""
    recent: TickMemo = field(default_factory=TickMemo, compare=False, repr=False)
    """Shared by all the snapshots of one data source: what pages may take from a snapshot
    up to a second older (whole charts, keyed by their second), since snapshots change
    several times a second and a whole chart costs far more than its patches."""

    def stream(self, stream_id: str) -> Stream:
        """A registered stream, or a stand-in for one that only has data; else ``UnknownStream``."""
        found = self.registry.streams.get(stream_id)
        if found is not None:
            return found
        if stream_id in self.totals or stream_id in self.stats:
            return Stream(id=stream_id, title=stream_id) if _valid(stream_id) else _raw(stream_id)
        raise UnknownStream(stream_id)

    def streams(self) -> list[Stream]:
        """Registered streams and streams with data, the most recently active first."""
        ids = list(self.registry.streams)
        ids += sorted(s for s in self.totals if s not in self.registry.streams)

        def last_second(stream_id: str) -> int:
            steps = self.totals.get(stream_id)
            return steps.seconds[-1] if steps and steps.seconds else -1

        ordered = sorted(ids, key=last_second, reverse=True)  # stable: ties keep registry order
        return [self.stream(s) for s in ordered]

    def partner_ids(self, stream_id: str) -> list[str]:
        """Partners shown for a stream: active ones limited to it (expected, so listed before
        their first event) and any with data for it. A partner that may post anywhere is
        listed in the streams it has sent to."""
        ids = [
            p.id
            for p in self.registry.partners.values()
            if not p.revoked and stream_id in p.streams
        ]
        for source in (self.platforms.get(stream_id, {}), self.stats.get(stream_id, {})):
            ids += [p for p in source if p not in ids]
        return ids


def _valid(stream_id: str) -> bool:
    try:
        Stream(id=stream_id, title=stream_id)
    except ValueError:
        return False
    return True


def _raw(stream_id: str) -> Stream:
    # Data may name a stream whose id no longer passes validation; show it anyway.
    stream = object.__new__(Stream)
    object.__setattr__(stream, "id", stream_id)
    object.__setattr__(stream, "title", stream_id)
    object.__setattr__(stream, "tz", DEFAULT_TZ)
    return stream


@dataclass(frozen=True, slots=True)
class Figures:
    """The headline numbers at one second."""

    concurrent: int = 0
    peak_concurrent: int = 0
    peak_at: int | None = None
    """Epoch second the peak was first reached; None while concurrency was never above 0."""
    views: int = 0
    uniques: int = 0


def figures_at(steps: Steps | None, second: int) -> Figures:
    """Concurrent, views and uniques at a whole second, and the peak up to it."""
    if steps is None:
        return Figures()
    now = steps.at(second)
    peak, peak_at = steps.peak(second)
    return Figures(now.concurrent, peak, peak_at, now.views, now.uniques)


@dataclass(frozen=True, slots=True)
class PartnerSummary:
    """One partner's numbers and health for a stream."""

    id: str
    name: str
    name_en: str
    figures: Figures
    status: Status
    last_event_ts: int | None
    last_arrival: int | None
    events: int = 0
    """Events the stream app counted for this partner and stream (the stats topic)."""

    def display_name(self, lang: str) -> str:
        """The name in a language (``zh`` or ``en``)."""
        return self.name_en if lang == "en" and self.name_en else self.name


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """A stream's totals and per-partner numbers at one second."""

    stream: Stream
    second: int
    total: Figures
    partners: tuple[PartnerSummary, ...]
    segment: Slot | None = None
    """The programme segment on at ``second``, with its end, if any."""


def current_slot(snapshot: Snapshot, stream_id: str, second: int) -> Slot | None:
    """The programme segment of a stream on at ``second``, with when it ends."""
    return slot_at(snapshot.registry.programme(stream_id), second)


def summarize(snapshot: Snapshot, stream_id: str, second: int, now_ms: int) -> StreamSummary:
    """Summarise a stream at a whole epoch second; statuses are judged at ``now_ms``."""
    stream = snapshot.stream(stream_id)
    steps = snapshot.platforms.get(stream_id, {})
    stats = snapshot.stats.get(stream_id, {})
    partners = []
    for pid in snapshot.partner_ids(stream_id):
        registered: Partner | None = snapshot.registry.partners.get(pid)
        st = stats.get(pid, PartnerStats())
        partners.append(
            PartnerSummary(
                id=pid,
                name=registered.name if registered else pid,
                name_en=registered.name_en if registered else "",
                figures=figures_at(steps.get(pid), second),
                status=feed_status(st.last_arrival, now_ms),
                last_event_ts=st.last_event_ts,
                last_arrival=st.last_arrival,
                events=st.events,
            )
        )
    return StreamSummary(
        stream=stream,
        second=second,
        total=figures_at(snapshot.totals.get(stream_id), second),
        partners=tuple(partners),
        segment=current_slot(snapshot, stream_id, second),
    )


@dataclass(frozen=True, slots=True)
class Bucket:
    """Counts over one time bucket."""

    start: int
    """First epoch second of the bucket."""
    concurrent: int
    """Concurrent at the bucket's last second."""
    peak_concurrent: int
    """Largest concurrent at any second of the bucket."""
    views: int
    uniques: int
    new_views: int
    """Views added during the bucket."""


def bucket_series(steps: Steps | None, start: int, end: int, width: int) -> list[Bucket]:
    """Buckets of ``width`` seconds from ``start`` (aligned down to ``width``) through ``end``."""
    if width < 1:
        raise ValueError("bucket width must be at least 1 second")
    seconds = steps.seconds if steps else []
    values = steps.values if steps else []
    first = start - start % width
    i = bisect_right(seconds, first - 1)
    current = values[i - 1] if i else Numbers()
    out: list[Bucket] = []
    b = first
    while b <= end:
        last = min(b + width - 1, end)
        before = current
        while i < len(seconds) and seconds[i] <= b:
            current = values[i]
            i += 1
        peak = current.concurrent
        while i < len(seconds) and seconds[i] <= last:
            current = values[i]
            peak = max(peak, current.concurrent)
            i += 1
        out.append(
            Bucket(
                start=b,
                concurrent=current.concurrent,
                peak_concurrent=peak,
                views=current.views,
                uniques=current.uniques,
                new_views=current.views - before.views,
            )
        )
        b += width
    return out


@dataclass(frozen=True, slots=True)
class SeriesResult:
    """A stream's buckets, in total and per partner."""

    stream: Stream
    start: int
    end: int
    width: int
    total: list[Bucket]
    platforms: dict[str, list[Bucket]]


def bucket_count(start: int, end: int, width: int) -> int:
    """How many buckets ``bucket_series`` makes for a range."""
    first = start - start % width
    return 0 if end < first else (end - first) // width + 1


def stream_series(
    snapshot: Snapshot,
    stream_id: str,
    *,
    width: int,
    start: int | None,
    end: int,
    max_buckets: int,
    max_cells: int | None = None,
) -> SeriesResult:
    """Series of a stream from ``start`` (default: its first data second) through ``end``.

    A request for more than ``max_buckets`` buckets, or (with ``max_cells``) more than
    ``max_cells`` buckets summed over the total and every partner, is refused with a
    ``BadParameter`` that names the largest range allowed at this width.
    """
    stream = snapshot.stream(stream_id)
    total = snapshot.totals.get(stream_id)
    if start is None:
        start = total.seconds[0] if total and total.seconds else end
        start = min(start, end)
    if start > end:
        raise BadParameter("from", "must not be after 'to'")
    count = bucket_count(start, end, width)
    platforms = snapshot.platforms.get(stream_id, {})
    lines = len(platforms) + 1
    allowed = max_buckets if max_cells is None else min(max_buckets, max_cells // lines)
    if count > allowed:
        raise BadParameter(
            "resolution",
            f"with this range asks for {count:,} buckets of {width} s for the total and "
            f"{lines - 1} partners; at this resolution the largest range is {allowed:,} buckets "
            f"({_duration(allowed * width)}): choose a coarser resolution or a shorter range",
        )
    return SeriesResult(
        stream=stream,
        start=start,
        end=end,
        width=width,
        total=bucket_series(total, start, end, width),
        platforms={p: bucket_series(s, start, end, width) for p, s in sorted(platforms.items())},
    )


def _duration(seconds: int) -> str:
    """``5 h 33 min 20 s``: a span for an error message."""
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts)


def parse_instant(text: str, tz: str, name: str = "at") -> int:
    """A time as RFC 3339 or epoch milliseconds, floored to a whole epoch second
    (``contract.instants.parse_second``); ``BadParameter`` names ``name`` when it is not one.

    A time without an offset is read in the stream's time zone ``tz``.
    """
    try:
        return parse_second(text, tz)
    except ValueError as exc:
        raise BadParameter(name, str(exc)) from None
