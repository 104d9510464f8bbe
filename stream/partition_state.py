"""Everything one partition of the events topic knows, and the chunks it publishes: pure code.

A ``PartitionState`` takes decoded records in any order, any number of times, and keeps per
(stream, partner) the sessions, the first time of every viewer, and per-second count changes
grouped by minute. ``drain`` hands out the minutes that changed since the last call as
``Chunk``s for the partials topic, and the partner's monitor figures.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from contract.events import Event, PartnerMode, Rejection, parse_event
from contract.records import EventBatch, RecordError, decode_batch
from stream.merge import Chunk
from stream.presence import Session, ceil_second
from stream.reports import Report, merge_report, report_diffs

__all__ = ["DeadLetter", "PartitionState", "PlatformState", "PlatformStats"]

logger = logging.getLogger(__name__)


class _AnyStream:
    """The stream app counts what ingest accepted; stream registration is checked there."""

    def __contains__(self, item: object) -> bool:
        return True


_ANY_STREAM = _AnyStream()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record or event the worker refused, with the reason."""

    partition: int
    offset: int
    index: int | None
    code: str
    detail: str
    value: str


@dataclass(frozen=True, slots=True)
class PlatformStats:
    """Monitor figures of one (stream, partner) in one partition."""

    stream: str
    platform: str
    partition: int
    last_event_ts: int | None
    last_arrival: int | None
    events: int
    rejected: int


@dataclass
class PlatformState:
    """One (stream, partner) within one partition."""

    stream: str
    platform: str
    default_timeout_ms: int
    sessions: dict[str, Session] = field(default_factory=dict)
    viewers: dict[str, int] = field(default_factory=dict)
    changes: dict[int, dict[int, list[int]]] = field(default_factory=dict)
    reports: dict[int, Report] = field(default_factory=dict)
    report_changes: dict[int, dict[int, tuple[int, int, int]]] = field(default_factory=dict)
    reports_dirty: bool = False
    dirty: set[int] = field(default_factory=set)
    last_event_ts: int | None = None
    last_arrival: int | None = None
    events: int = 0
    rejected: int = 0
    stats_dirty: bool = False

    def _bump(self, second: int, index: int, delta: int) -> None:
        minute = second // 60
        cells = self.changes.get(minute)
        if cells is None:
            cells = self.changes[minute] = {}
        cell = cells.get(second)
        if cell is None:
            cell = cells[second] = [0, 0, 0]
        cell[index] += delta
        self.dirty.add(minute)

    def _move(self, index: int, old_ms: int, new_ms: int) -> None:
        old_s, new_s = ceil_second(old_ms), ceil_second(new_ms)
        if old_s != new_s:
            self._bump(old_s, index, -1)
            self._bump(new_s, index, 1)

    def apply(self, event: Event, timeout_ms: int) -> None:
        """Add one accepted event; a no-op if the same event was added before."""
        if event.type == "count":
            report: Report = (event.concurrent or 0, event.cumulative, event.uniques)
            merged = merge_report(self.reports.get(event.ts), report)
            if merged != self.reports.get(event.ts):
                self.reports[event.ts] = merged
                self.reports_dirty = True
            return
        session_id = event.session_id
        assert session_id is not None  # noqa: S101 - parse_event guarantees it
        session = self.sessions.get(session_id)
        if session is None:
            session = self.sessions[session_id] = Session(event.ts)
            self._bump(ceil_second(event.ts), 1, 1)
            old_first = event.ts
        else:
            old_first = session.first
        for second, delta in session.add(event.type, event.ts, timeout_ms, self.default_timeout_ms):
            self._bump(second, 0, delta)
        if session.first != old_first:
            self._move(1, old_first, session.first)
        viewer = event.viewer_id or session_id
        first_seen = self.viewers.get(viewer)
        if first_seen is None:
            self.viewers[viewer] = event.ts
            self._bump(ceil_second(event.ts), 2, 1)
        elif event.ts < first_seen:
            self.viewers[viewer] = event.ts
            self._move(2, first_seen, event.ts)

    def _refresh_reports(self) -> None:
        if not self.reports_dirty:
            return
        self.reports_dirty = False
        by_minute: dict[int, dict[int, tuple[int, int, int]]] = {}
        for second, diff in report_diffs(self.reports).items():
            by_minute.setdefault(second // 60, {})[second] = diff
        for minute in set(by_minute) | set(self.report_changes):
            if by_minute.get(minute) != self.report_changes.get(minute):
                self.dirty.add(minute)
        self.report_changes = by_minute

    def chunk_seconds(self, minute: int) -> dict[int, tuple[int, int, int]]:
        """The non-zero per-second changes of one minute (sessions and reports together)."""
        out: dict[int, tuple[int, int, int]] = {}
        for second, cell in self.changes.get(minute, {}).items():
            if cell[0] or cell[1] or cell[2]:
                out[second] = (cell[0], cell[1], cell[2])
        for second, diff in self.report_changes.get(minute, {}).items():
            base = out.get(second, (0, 0, 0))
            total = (base[0] + diff[0], base[1] + diff[1], base[2] + diff[2])
            if total == (0, 0, 0):
                out.pop(second, None)
            else:
                out[second] = total
        return out


class PartitionState:
    """All (stream, partner) states of one partition of the events topic."""

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self.platforms: dict[tuple[str, str], PlatformState] = {}
        self.dead_letters: list[DeadLetter] = []
        self.next_offset = 0
        """The offset after the last record applied."""

    def _platform(self, stream: str, platform: str, timeout_ms: int) -> PlatformState:
        key = (stream, platform)
        state = self.platforms.get(key)
        if state is None:
            state = self.platforms[key] = PlatformState(stream, platform, timeout_ms)
        return state

    def apply_record(self, offset: int, value: bytes | None) -> int:
        """Decode, re-check and add one events-topic record; return the events it counted.

        Anything that fails the contract goes to ``dead_letters`` with its reason; the
        rest of the record is still counted.
        """
        self.next_offset = max(self.next_offset, offset + 1)
        try:
            batch = decode_batch(value)
        except RecordError as exc:
            self._dead(offset, None, "bad_record", str(exc), value)
            return 0
        return self._apply_batch(offset, batch)

    def _apply_batch(self, offset: int, batch: EventBatch) -> int:
        counted = 0
        state: PlatformState | None = None
        for index, raw in enumerate(batch.events):
            kind = raw.get("type") if raw.__class__ is dict else None
            mode: PartnerMode = "reports" if kind == "count" else "sessions"
            parsed = parse_event(raw, now_ms=batch.received_at, streams=_ANY_STREAM, mode=mode)
            if isinstance(parsed, Rejection):
                self._dead(offset, index, parsed.code, parsed.detail, raw)
                if isinstance(raw, dict) and isinstance(raw.get("stream"), str):
                    rejected = self.platforms.get((raw["stream"], batch.platform))
                    if rejected is not None:
                        rejected.rejected += 1
                        rejected.stats_dirty = True
                continue
            if state is None or state.stream != parsed.stream:
                state = self._platform(parsed.stream, batch.platform, batch.timeout_ms)
                state.last_arrival = max(state.last_arrival or 0, batch.received_at)
                state.stats_dirty = True
            state.apply(parsed, batch.timeout_ms)
            state.events += 1
            if state.last_event_ts is None or parsed.ts > state.last_event_ts:
                state.last_event_ts = parsed.ts
            counted += 1
        return counted

    def _dead(self, offset: int, index: int | None, code: str, detail: str, raw: object) -> None:
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else repr(raw)
        self.dead_letters.append(
            DeadLetter(self.partition, offset, index, code, detail, text[:2000])
        )

    def mark_all_dirty(self) -> None:
        """Make the next ``drain`` republish everything (after rebuilding from the log)."""
        for state in self.platforms.values():
            state.dirty.update(state.changes)
            state.reports_dirty = True
            state.report_changes = {}
            state.stats_dirty = True

    def drain(self) -> tuple[list[Chunk], list[PlatformStats], list[DeadLetter]]:
        """The chunks, monitor figures and dead letters produced since the last drain."""
        chunks: list[Chunk] = []
        stats: list[PlatformStats] = []
        for state in self.platforms.values():
            state._refresh_reports()
            for minute in sorted(state.dirty):
                chunks.append(
                    Chunk(
                        stream=state.stream,
                        platform=state.platform,
                        partition=self.partition,
                        minute=minute,
                        seconds=state.chunk_seconds(minute),
                    )
                )
                cells = state.changes.get(minute)
                if cells is not None:
                    for second in [s for s, c in cells.items() if c == [0, 0, 0]]:
                        del cells[second]
                    if not cells:
                        del state.changes[minute]
            state.dirty.clear()
            if state.stats_dirty:
                state.stats_dirty = False
                stats.append(
                    PlatformStats(
                        stream=state.stream,
                        platform=state.platform,
                        partition=self.partition,
                        last_event_ts=state.last_event_ts,
                        last_arrival=state.last_arrival,
                        events=state.events,
                        rejected=state.rejected,
                    )
                )
        dead, self.dead_letters = self.dead_letters, []
        return chunks, stats, dead

    def sessions(self) -> int:
        """How many sessions this partition holds."""
        return sum(len(state.sessions) for state in self.platforms.values())

    def iter_platforms(self) -> Iterable[PlatformState]:
        """Every (stream, partner) state."""
        return self.platforms.values()
