"""Everything one partition of the events topic knows, and the chunks it publishes: pure code.

A ``PartitionState`` takes decoded records in any order, any number of times, and keeps per
(stream, partner) the sessions, the first time of every viewer, and per-second count changes
grouped by minute. ``drain`` hands out the minutes that changed since the last call as
``Chunk``s for the partials topic, and the partner's monitor figures.
"""

from __future__ import annotations

import logging
import sys
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

import msgspec
import numpy as np
from msgspec import UNSET

from contract.deadletter import DeadLetter
from contract.events import (
    Event,
    PartnerMode,
    Rejection,
    parse_event,
)
from contract.partials import Chunk
from contract.records import (
    EventBatch,
    RecordError,
    WireBatch,
    decode_batch,
    decode_wire_batch,
    split_bundle,
)
from contract.stats import PartitionStats
from contract.wire import MAX_FUTURE_MS, MAX_PAST_MS, MAX_TS, MIN_TS
from stream.churn import WINDOW_S, ChurnCounter
from stream.cold_store import ColdStore
from stream.frozen import end_second, first_of, freeze, thaw
from stream.presence import Session
from stream.reports import REPORT_TTL_MS, Report, ReportTimeline, merge_report

__all__ = ["Freezing", "PartitionState", "PlatformState"]

logger = logging.getLogger(__name__)


class _AnyStream:
    """The stream app counts what ingest accepted; stream registration is checked there."""

    def __contains__(self, item: object) -> bool:
        return True


_ANY_STREAM = _AnyStream()
Batch = EventBatch | WireBatch


@dataclass(frozen=True, slots=True)
class Freezing:
    """When sessions that went offline are packed (``stream.frozen``).

    A session is packed once it has been offline for ``grace_ms`` of its partner's event
    time (``last_event_ts``): an event for it after that is late or a reconnect, and only
    costs an unpacking. The check runs over the sessions not yet packed whenever the event
    time moved ``every_ms`` on since the last one, or their number doubled (a log replayed
    out of order may hardly move the event time). Packing changes no number, only memory.
    """

    grace_ms: int = 120_000
    every_ms: int = 15_000
    min_sweep: int = 4096
    """Fewer unpacked sessions than this never trigger a check by their number alone."""
    migrate_min: int = 4096
    """Packed sessions wait in the dict until there are this many (or an eighth of the cold
    store's number), then move to the cold store with the viewers first seen before the
    grace period (``PlatformState.migrate``)."""


DEFAULT_FREEZING = Freezing()
_ZERO_MINUTE: Final = array("q", bytes(8 * 180))


@dataclass
class PlatformState:
    """One (stream, partner) within one partition."""

    stream: str
    platform: str
    default_timeout_ms: int
    freezing: Freezing = DEFAULT_FREEZING
    sessions: dict[str, Session | bytes] = field(default_factory=dict)
    """Per session id, its ``Session``, or the session packed (``stream.frozen``); the rest
    of the sessions are in ``cold_sessions``."""
    cold_sessions: ColdStore = field(default_factory=ColdStore)
    """Packed sessions moved out of ``sessions`` (``stream.cold_store``)."""
    unpacked: set[str] = field(default_factory=set)
    """The ids whose sessions are objects (new, unpacked since, or not of a shape that packs)."""
    sweep_at_ts: int | None = None
    """The event time from which the next check for sessions to pack runs."""
    sweep_at_size: int = 0
    """The number of unpacked sessions from which it runs anyway."""
    viewers: dict[str, int] = field(default_factory=dict)
    """Per viewer, the first time seen; the rest of the viewers are in ``cold_viewers``."""
    cold_viewers: ColdStore = field(default_factory=ColdStore)
    """Viewers moved out of ``viewers``: their first times as 8-byte native integers."""
    changes: dict[int, array[int]] = field(default_factory=dict)
    """Per minute, the per-second changes the sessions make: 60 x (concurrent, views,
    uniques), one flat array (a minute of an evening has a change nearly every second; 1.5 KB
    as an array, ~11 KB as dicts and lists)."""
    reports: dict[int, Report] = field(default_factory=dict)
    report_changes: dict[int, dict[int, list[int]]] = field(default_factory=dict)
    """Per minute, the per-second changes the reports make (kept up to date by ``apply``;
    never all zero)."""
    report_timeline: ReportTimeline = field(default_factory=ReportTimeline)
    dirty: set[int] = field(default_factory=set)
    last_event_ts: int | None = None
    last_arrival: int | None = None
    events: int = 0
    rejected: int = 0
    stats_dirty: bool = False
    pending: tuple[dict[int, int], dict[int, int], dict[int, int]] = field(
        default_factory=lambda: ({}, {}, {})
    )
    """Per-second changes (concurrent, views, uniques) of the record being applied."""
    churn: ChurnCounter = field(default_factory=ChurnCounter)
    """Recently started sessions, for the churn alert."""

    def add_change(self, second: int, index: int, delta: int) -> None:
        """Add ``delta`` to one second's change of concurrent (0), views (1) or uniques (2)."""
        minute = second // 60
        cells = self.changes.get(minute)
        if cells is None:
            cells = self.changes[minute] = _ZERO_MINUTE[:]
        cells[3 * (second - 60 * minute) + index] += delta
        self.dirty.add(minute)

    def session_cells(self, minute: int) -> dict[int, tuple[int, int, int]]:
        """The non-zero per-second changes the sessions make in one minute."""
        cells = self.changes.get(minute)
        if cells is None:
            return {}
        out: dict[int, tuple[int, int, int]] = {}
        first = 60 * minute
        for k in range(0, 180, 3):
            if cells[k] or cells[k + 1] or cells[k + 2]:
                out[first + k // 3] = (cells[k], cells[k + 1], cells[k + 2])
        return out

    def apply(self, event: Event, timeout_ms: int) -> None:
        """Add one accepted event; a no-op if the same event was added before."""
        if event.type == "count":
            report: Report = (event.concurrent or 0, event.cumulative, event.uniques)
            merged = merge_report(self.reports.get(event.ts), report)
            if merged != self.reports.get(event.ts):
                self.reports[event.ts] = merged
                self.report_timeline.add(event.ts, merged, self._bump_report)
            return
        session_id = event.session_id
        assert session_id is not None  # noqa: S101 - parse_event guarantees it
        self.apply_session(event.type, event.ts, session_id, event.viewer_id, timeout_ms)
        self.fold()

    def apply_session(
        self, kind: str, ts: int, session_id: str, viewer_id: str | None, timeout_ms: int
    ) -> None:
        """Add one checked join/heartbeat/leave; changes wait in ``pending`` until ``fold``."""
        pending = self.pending
        found = self.sessions.get(session_id)
        if found is None and self.cold_sessions:
            found = self.cold_sessions.pop(session_id)
        session: Session | None
        if isinstance(found, bytes):
            session = self.sessions[session_id] = thaw(found)
            self.unpacked.add(session_id)
        else:
            session = found
        churn_before = self.churn.before(session, ts)
        if session is None:
            session = self.sessions[session_id] = Session(ts)
            self.unpacked.add(session_id)
            second = -(-ts // 1000)
            views = pending[1]
            views[second] = views.get(second, 0) + 1
        else:
            old_first = session.first
            if ts < old_first:
                views = pending[1]
                old_s, new_s = -(-old_first // 1000), -(-ts // 1000)
                if old_s != new_s:
                    views[old_s] = views.get(old_s, 0) - 1
                    views[new_s] = views.get(new_s, 0) + 1
        session.add_into(kind, ts, timeout_ms, self.default_timeout_ms, pending[0])
        if churn_before is not None:
            self.churn.after(session_id, session, kind, ts, churn_before)
        viewer = viewer_id or session_id
        viewers = self.viewers
        first_seen = viewers.get(viewer)
        if first_seen is None and self.cold_viewers:
            held = self.cold_viewers.pop(viewer)
            if held is not None:
                first_seen = viewers[viewer] = int.from_bytes(held, sys.byteorder, signed=True)
        if first_seen is None:
            viewers[viewer] = ts
            second = -(-ts // 1000)
            uniques = pending[2]
            uniques[second] = uniques.get(second, 0) + 1
        elif ts < first_seen:
            viewers[viewer] = ts
            old_s, new_s = -(-first_seen // 1000), -(-ts // 1000)
            if old_s != new_s:
                uniques = pending[2]
                uniques[old_s] = uniques.get(old_s, 0) - 1
                uniques[new_s] = uniques.get(new_s, 0) + 1

    def fold(self) -> None:
        """Move the pending per-second changes into ``changes`` (once per record), and
        pack the sessions that went offline when it is time to look for them."""
        now = self.last_event_ts
        self.churn.slide(now)
        for index, bumps in enumerate(self.pending):
            if not bumps:
                continue
            for second, delta in bumps.items():
                if delta:
                    self.add_change(second, index, delta)
            bumps.clear()
        if now is not None and (
            self.sweep_at_ts is None
            or now >= self.sweep_at_ts
            or len(self.unpacked) >= self.sweep_at_size
        ):
            self.pack_offline(now)

    def pack_offline(self, now_ms: int) -> None:
        """Pack every session offline for the grace period before ``now_ms`` (event time)."""
        freezing = self.freezing
        limit = now_ms - freezing.grace_ms
        sessions = self.sessions
        kept: set[str] = set()
        for session_id in self.unpacked:
            session = sessions[session_id]
            assert isinstance(session, Session)  # noqa: S101 - what ``unpacked`` holds
            if end_second(session) * 1000 <= limit:
                blob = freeze(session)
                if blob is not None:
                    sessions[session_id] = blob
                    continue
            kept.add(session_id)
        self.unpacked = kept
        self.sweep_at_ts = now_ms + freezing.every_ms
        self.sweep_at_size = max(2 * len(kept), freezing.min_sweep)
        packed = len(sessions) - len(kept)
        if packed and packed >= max(freezing.migrate_min, len(self.cold_sessions) // 8):
            self.migrate(limit)

    def migrate(self, limit_ms: int) -> None:
        """Move the packed sessions, and the viewers first seen at or before ``limit_ms``, to
        the cold stores. An event for one of them brings it back (``apply_session``)."""
        hot: dict[str, Session | bytes] = {}
        ids: list[str] = []
        blobs: list[bytes] = []
        for session_id, held in self.sessions.items():
            if isinstance(held, bytes):
                ids.append(session_id)
                blobs.append(held)
            else:
                hot[session_id] = held
        self.cold_sessions.extend(ids, blobs)
        # New dicts: a dict never shrinks when entries are deleted from it.
        self.sessions = hot
        viewers: dict[str, int] = {}
        old: list[str] = []
        firsts: list[bytes] = []
        for viewer, first in self.viewers.items():
            if first <= limit_ms:
                old.append(viewer)
                firsts.append(first.to_bytes(8, sys.byteorder, signed=True))
            else:
                viewers[viewer] = first
        self.cold_viewers.extend(old, firsts)
        self.viewers = viewers

    def session(self, session_id: str) -> Session | None:
        """One session as an object (unpacked if it is packed; the state is not changed)."""
        found = self.sessions.get(session_id)
        if found is None and self.cold_sessions:
            found = self.cold_sessions.get(session_id)
        return thaw(found) if isinstance(found, bytes) else found

    def session_ids(self) -> Iterator[str]:
        """Every session id held (those in the cold store after the others)."""
        yield from self.sessions
        yield from self.cold_sessions.keys()

    def packed_ids(self) -> set[str]:
        """The ids of the sessions held packed (in ``sessions`` or the cold store)."""
        out = {sid for sid, held in self.sessions.items() if isinstance(held, bytes)}
        out.update(self.cold_sessions.keys())
        return out

    def all_viewers(self) -> dict[str, int]:
        """Every viewer's first time, in one dict (a copy: for checks, not the hot path)."""
        out = {
            viewer: int.from_bytes(held, sys.byteorder, signed=True)
            for viewer, held in self.cold_viewers.items()
        }
        out.update(self.viewers)
        return out

    def session_count(self) -> int:
        """How many sessions this (stream, partner) holds."""
        return len(self.sessions) + len(self.cold_sessions)

    def recent_sessions(self, since_ms: int) -> dict[str, Session]:
        """The sessions whose first event is at or after ``since_ms``, as objects."""
        out: dict[str, Session] = {}
        for session_id, found in self.sessions.items():
            if isinstance(found, bytes):
                if first_of(found) >= since_ms:
                    out[session_id] = thaw(found)
            elif found.first >= since_ms:
                out[session_id] = found
        cold = self.cold_sessions
        if cold:
            # A packed session begins with its first event's time (``stream.frozen``).
            positions = np.flatnonzero(cold.leading_i64() >= since_ms)
            for session_id in cold.keys_at(positions):
                held = cold.get(session_id)
                assert held is not None  # noqa: S101 - a key the store just gave
                out[session_id] = thaw(held)
        return out

    def _bump_report(self, second: int, index: int, delta: int) -> None:
        minute = second // 60
        cells = self.report_changes.get(minute)
        if cells is None:
            cells = self.report_changes[minute] = {}
        cell = cells.get(second)
        if cell is None:
            cell = cells[second] = [0, 0, 0]
        cell[index] += delta
        if not (cell[0] or cell[1] or cell[2]):
            del cells[second]
            if not cells:
                del self.report_changes[minute]
        self.dirty.add(minute)

    def forget_published_reports(self) -> None:
        """Republish every minute a report could ever have changed (after a restore).

        What was published for reports is not kept in a checkpoint or a rebuild, and a later
        report can move a change out of a minute (a report taking over ends the previous
        one's 120 s earlier). The reports only ever grow, so every minute they could have
        touched lies between the first report and 120 s after the last one. The changes
        themselves are rebuilt from the reports, all a restore brings back.
        """
        self.report_changes = {}
        self.report_timeline = ReportTimeline()
        for ts in sorted(self.reports):
            self.report_timeline.add(ts, self.reports[ts], self._bump_report)
        if self.reports:
            first = -(-min(self.reports) // 1000) // 60
            last = -(-(max(self.reports) + REPORT_TTL_MS) // 1000) // 60
            self.dirty.update(range(first, last + 1))

    def chunk_seconds(self, minute: int) -> dict[int, tuple[int, int, int]]:
        """The non-zero per-second changes of one minute (sessions and reports together)."""
        out = self.session_cells(minute)
        reported = self.report_changes.get(minute)
        if not reported:
            return out
        if not out:  # a reports-mode partner's minute
            return {second: (diff[0], diff[1], diff[2]) for second, diff in reported.items()}
        for second, diff in reported.items():
            base = out.get(second, (0, 0, 0))
            total = (base[0] + diff[0], base[1] + diff[1], base[2] + diff[2])
            if total == (0, 0, 0):
                out.pop(second, None)
            else:
                out[second] = total
        return out


class PartitionState:
    """All (stream, partner) states of one partition of the events topic."""

    def __init__(self, partition: int, freezing: Freezing = DEFAULT_FREEZING) -> None:
        self.partition = partition
        self.freezing = freezing
        self.platforms: dict[tuple[str, str], PlatformState] = {}
        self.dead_letters: list[DeadLetter] = []
        self.arrivals: list[tuple[int, int]] = []
        """(received_at, events counted) of the records applied since the last drain."""
        self.known_streams: set[str] = set()
        """Stream ids that passed the full check once (the fast path only compares them)."""
        self.next_offset = 0
        """The offset after the last record applied."""

    def _platform(self, stream: str, platform: str, timeout_ms: int) -> PlatformState:
        key = (stream, platform)
        state = self.platforms.get(key)
        if state is None:
            state = self.platforms[key] = PlatformState(stream, platform, timeout_ms, self.freezing)
        return state

    def apply_record(self, offset: int, value: bytes | None) -> int:
        """Decode, re-check and add one events-topic record; return the events it counted.

        Anything that fails the contract goes to ``dead_letters`` with its reason; the
        rest of the record is still counted. Each batch of a bundle is counted as a record
        of its own would be.
        """
        self.next_offset = max(self.next_offset, offset + 1)
        wire = decode_wire_batch(value) if value is not None else None
        if wire is not None:
            return self._apply_wire(offset, wire)
        parts = split_bundle(value) if value is not None else None
        if parts is not None:
            return self._apply_bundle(offset, parts)
        try:
            batch = decode_batch(value)
        except RecordError as exc:
            self._dead(offset, None, "bad_record", str(exc), value)
            return 0
        return self._apply_batch(offset, batch)

    def _apply_bundle(self, offset: int, parts: list[bytes]) -> int:
        """Count each batch of a bundle; a dead letter's index is the event's place among
        all the bundle's events."""
        counted = first = 0
        for part in parts:
            wire = decode_wire_batch(part)
            if wire is not None:
                counted += self._apply_wire(offset, wire, first)
                first += len(wire.events)
                continue
            try:
                batch = decode_batch(part)
            except RecordError as exc:
                detail = f"the bundle's batch after event {first}: {exc}"
                self._dead(offset, None, "bad_record", detail, part)
                continue
            counted += self._apply_batch(offset, batch, first)
            first += len(batch.events)
        return counted

    def _touch(
        self, state: PlatformState | None, stream: str, batch: Batch, touched: list[PlatformState]
    ) -> PlatformState:
        if state is None or state.stream != stream:
            state = self._platform(stream, batch.platform, batch.timeout_ms)
            if state not in touched:
                touched.append(state)
        return state

    def _apply_wire(self, offset: int, batch: WireBatch, first: int = 0) -> int:
        """``_apply_batch`` for a record msgspec has typed: the usual record from ingest."""
        counted = 0
        state: PlatformState | None = None
        touched: list[PlatformState] = []
        received_at = batch.received_at
        # The event-time window parse_event checks, and its range check of integer ts.
        oldest = max(received_at - MAX_PAST_MS, MIN_TS)
        newest = min(received_at + MAX_FUTURE_MS, MAX_TS)
        timeout_ms = batch.timeout_ms
        good_streams = self.known_streams
        for index, event in enumerate(batch.events, first):
            # Types and lengths are the schema's; these are the rest of parse_event's checks.
            kind = event.type
            stream = event.stream
            ts = event.ts
            session_id = event.session_id
            viewer_id = event.viewer_id
            if (
                kind != "count"
                and stream in good_streams
                and oldest <= ts <= newest
                and session_id is not UNSET
                and session_id.isprintable()
                and (viewer_id is UNSET or viewer_id.isprintable())
                and (event.platform is UNSET or event.platform.isprintable())
            ):
                if state is None or state.stream != stream:
                    state = self._touch(state, stream, batch, touched)
                state.apply_session(
                    kind, ts, session_id, None if viewer_id is UNSET else viewer_id, timeout_ms
                )
                state.events += 1
                if state.last_event_ts is None or ts > state.last_event_ts:
                    state.last_event_ts = ts
                counted += 1
                continue
            raw = msgspec.to_builtins(event)
            state = self._apply_checked(offset, index, raw, batch, state, touched)
            counted += state is not None
        return self._finish(touched, received_at, counted)

    def _apply_batch(self, offset: int, batch: EventBatch, first: int = 0) -> int:
        """Count a record that does not fit the schema (a partner producing straight to
        Kafka, say with RFC 3339 times or an invalid event): every event checked in full."""
        counted = 0
        state: PlatformState | None = None
        touched: list[PlatformState] = []
        for index, raw in enumerate(batch.events, first):
            state = self._apply_checked(offset, index, raw, batch, state, touched)
            counted += state is not None
        return self._finish(touched, batch.received_at, counted)

    def _apply_checked(
        self,
        offset: int,
        index: int,
        raw: object,
        batch: Batch,
        state: PlatformState | None,
        touched: list[PlatformState],
    ) -> PlatformState | None:
        """Check one event in full and count it; None (and a dead letter) if it is refused."""
        kind = raw.get("type") if isinstance(raw, dict) else None
        mode: PartnerMode = "reports" if kind == "count" else "sessions"
        parsed = parse_event(raw, now_ms=batch.received_at, streams=_ANY_STREAM, mode=mode)
        if isinstance(parsed, Rejection):
            self._dead(offset, index, parsed.code, parsed.detail, raw)
            if isinstance(raw, dict) and isinstance(raw.get("stream"), str):
                rejected = self.platforms.get((raw["stream"], batch.platform))
                if rejected is not None:
                    rejected.rejected += 1
                    rejected.stats_dirty = True
            return None
        self.known_streams.add(parsed.stream)
        state = self._touch(state, parsed.stream, batch, touched)
        if parsed.type == "count" or parsed.session_id is None:
            state.apply(parsed, batch.timeout_ms)
        else:  # changes are folded once per record (_finish), as on the typed path
            state.apply_session(
                parsed.type, parsed.ts, parsed.session_id, parsed.viewer_id, batch.timeout_ms
            )
        state.events += 1
        if state.last_event_ts is None or parsed.ts > state.last_event_ts:
            state.last_event_ts = parsed.ts
        return state

    def _finish(self, touched: list[PlatformState], received_at: int, counted: int) -> int:
        for touched_state in touched:
            touched_state.fold()
            touched_state.last_arrival = max(touched_state.last_arrival or 0, received_at)
            touched_state.stats_dirty = True
        if counted:
            self.arrivals.append((received_at, counted))
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
            state.forget_published_reports()
            now = state.last_event_ts
            if now is not None:
                # What the counter's window can hold (it drops the rest itself).
                since = (now // 1000 - WINDOW_S) * 1000
                state.churn.catch_up(state.recent_sessions(since), now)
            state.stats_dirty = True

    def drain(self) -> tuple[list[Chunk], list[PartitionStats], list[DeadLetter]]:
        """The chunks, monitor figures and dead letters produced since the last drain."""
        chunks: list[Chunk] = []
        stats: list[PartitionStats] = []
        for state in self.platforms.values():
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
                if cells is not None and cells == _ZERO_MINUTE:
                    del state.changes[minute]
            state.dirty.clear()
            if state.stats_dirty:
                state.stats_dirty = False
                recent = state.churn.figures(state.last_event_ts)
                stats.append(
                    PartitionStats(
                        stream=state.stream,
                        platform=state.platform,
                        partition=self.partition,
                        last_event_ts=state.last_event_ts,
                        last_arrival=state.last_arrival,
                        events=state.events,
                        rejected=state.rejected,
                        recent_as_of=recent.as_of,
                        recent_offline_sessions=recent.offline,
                        recent_single_event_offline=recent.single,
                    )
                )
        dead, self.dead_letters = self.dead_letters, []
        return chunks, stats, dead

    def sessions(self) -> int:
        """How many sessions this partition holds."""
        return sum(state.session_count() for state in self.platforms.values())

    def iter_platforms(self) -> Iterable[PlatformState]:
        """Every (stream, partner) state."""
        return self.platforms.values()
