"""What a limited token may read: the snapshots it is given hold nothing else.

A viewer token limited to streams reads those streams only; a partner token reads one
partner's own numbers, feed status and rejections (in the streams it is limited to, if any).
Rather than teach every page, callback, export and report to filter, the request's data
source hands such a token a restricted copy of the snapshot: the other streams and partners
are simply not in it, so nothing downstream can show them. A stream's "total" in a partner's
copy is that partner's own count.

Restricted copies are built once per snapshot and scope and shared by every request with
that scope; each scope keeps its own ``recent`` memo, so no chart drawn from the full data
is ever reused for it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

from contract.registry import Partner, Registry, Token
from dashboard.model import Snapshot
from dashboard.monitor import MonitorSnapshot
from dashboard.ticks import TickMemo

if TYPE_CHECKING:
    from dashboard.data import DataSource

__all__ = [
    "RequestData",
    "Scope",
    "ScopedData",
    "current_scope",
    "restrict",
    "restrict_monitor",
]

MAX_SCOPES = 1024
"""Scopes whose restricted copies are kept at once (one per distinct limited token)."""

_V = TypeVar("_V")


@dataclass(frozen=True)
class Scope:
    """What one token may read."""

    streams: frozenset[str] = frozenset()
    """The streams it may read; empty: every stream."""
    partner: str | None = None
    """The only partner whose numbers it reads (None: every partner)."""

    @classmethod
    def of(cls, token: Token) -> Scope:
        """The scope of a token."""
        return cls(frozenset(token.streams), token.partner or None)

    @property
    def unlimited(self) -> bool:
        """Reads everything (admin and plain viewer tokens)."""
        return not self.streams and self.partner is None

    def allows_stream(self, stream_id: str) -> bool:
        """Whether a stream is within the streams it may read."""
        return not self.streams or stream_id in self.streams


def _partner_streams(snapshot: Snapshot, scope: Scope) -> set[str]:
    """The streams a partner token sees: those its partner may post to that the token is
    not limited away from, and those its partner sent to."""
    pid = scope.partner
    partner = snapshot.registry.partners.get(pid or "")
    seen: set[str] = set()
    if partner is not None:
        seen |= {s for s in snapshot.registry.streams if partner.allows(s)}
    for source in (snapshot.platforms, snapshot.stats):
        seen |= {s for s, per in source.items() if pid in per}
    return {s for s in seen if scope.allows_stream(s)}


def _only(
    mapping: Mapping[str, Mapping[str, _V]], streams: set[str], partner: str | None
) -> dict[str, dict[str, _V]]:
    """``mapping`` by stream then partner, kept to ``streams`` (and to ``partner``)."""
    out: dict[str, dict[str, _V]] = {}
    for stream, per in mapping.items():
        if stream not in streams:
            continue
        if partner is None:
            out[stream] = dict(per)
        elif partner in per:
            out[stream] = {partner: per[partner]}
    return out


def _public(partner: Partner) -> Partner:
    """A partner's record without its key hashes, which no page needs."""
    return replace(partner, key_hash="", previous_key_hash="")


def restrict(snapshot: Snapshot, scope: Scope, recent: TickMemo | None = None) -> Snapshot:
    """The part of ``snapshot`` that ``scope`` may read: its streams and the partners shown
    in them, without key hashes (tokens are never in it)."""
    registry = snapshot.registry
    if scope.partner is None:
        known = set(registry.streams) | set(snapshot.totals) | set(snapshot.stats)
        streams = {s for s in known if scope.allows_stream(s)}
        listed = {p for s in streams for p in snapshot.partner_ids(s)}
        partners = {p.id: _public(p) for p in registry.partners.values() if p.id in listed}
        totals = {s: steps for s, steps in snapshot.totals.items() if s in streams}
    else:
        streams = _partner_streams(snapshot, scope)
        own = registry.partners.get(scope.partner)
        partners = {} if own is None else {own.id: _public(own)}
        totals = {
            s: per[scope.partner]
            for s, per in snapshot.platforms.items()
            if s in streams and scope.partner in per
        }
    limited = Registry(
        streams={s: v for s, v in registry.streams.items() if s in streams},
        partners=partners,
        tokens={},
        segments={k: v for k, v in registry.segments.items() if k[0] in streams},
    )
    return Snapshot(
        registry=limited,
        platforms=_only(snapshot.platforms, streams, scope.partner),
        totals=totals,
        stats=_only(snapshot.stats, streams, scope.partner),
        version=snapshot.version,
        recent=recent if recent is not None else TickMemo(),
    )


def restrict_monitor(
    monitor: MonitorSnapshot, restricted: Snapshot, scope: Scope
) -> MonitorSnapshot:
    """The monitor figures ``scope`` may read, given its ``restricted`` snapshot.

    Alerts, rates and status changes are kept to its streams (and to its partner). Two
    kinds of figures are not kept by stream, so a limited token is not shown them where
    they could tell of other streams: the workers' pipeline figures (partitions, lag and
    latency of every stream together) are never shown to it, and the ingest counters
    (accepted and rejected events of a partner over every stream) only to a partner token
    not limited to streams, which then sees its own."""
    streams = set(restricted.registry.streams) | set(restricted.totals) | set(restricted.stats)
    ingest_shown = scope.partner is not None and not scope.streams
    return MonitorSnapshot(
        pipelines=(),
        ingest=tuple(m for m in monitor.ingest if ingest_shown and m.partner == scope.partner),
        alerts=tuple(
            a
            for a in monitor.alerts
            if a.stream in streams and (scope.partner is None or a.platform == scope.partner)
        ),
        rates={
            key: rate
            for key, rate in monitor.rates.items()
            if key[0] in streams and (scope.partner is None or key[1] == scope.partner)
        },
        history=tuple(
            c
            for c in monitor.history
            if c.stream in streams and (scope.partner is None or c.platform == scope.partner)
        ),
        version=monitor.version,
        pipelines_shown=False,
        ingest_shown=ingest_shown,
    )


class ScopedData:
    """A data source's snapshots as one scope may read them, each restricted copy built
    once and shared."""

    def __init__(self, source: DataSource, scope: Scope) -> None:
        self._source = source
        self.scope = scope
        self._recent = TickMemo()
        self._lock = threading.Lock()
        self._snapshot: tuple[Snapshot, Snapshot] | None = None
        self._monitor: tuple[MonitorSnapshot, Snapshot, MonitorSnapshot] | None = None

    def snapshot(self) -> Snapshot:
        """The latest snapshot, restricted to the scope."""
        base = self._source.snapshot()
        built = self._snapshot
        if built is None or built[0] is not base:
            with self._lock:
                built = self._snapshot
                if built is None or built[0] is not base:
                    built = (base, restrict(base, self.scope, self._recent))
                    self._snapshot = built
        return built[1]

    def monitor(self) -> MonitorSnapshot:
        """The latest monitor figures, restricted to the scope."""
        base = self._source.monitor()
        restricted = self.snapshot()
        built = self._monitor
        if built is None or built[0] is not base or built[1] is not restricted:
            built = (base, restricted, restrict_monitor(base, restricted, self.scope))
            self._monitor = built
        return built[2]


def current_scope() -> Scope | None:
    """The scope of the current request's token (None outside an authenticated request)."""
    import flask

    if not flask.has_request_context():
        return None
    scope: Scope | None = flask.g.get("livetally_scope")
    return scope


class RequestData:
    """The dashboard's data source as the current request's token may read it.

    Outside any request (the service's own code) it is the full source, also kept as
    ``full``. In a request that no token was checked for it refuses to answer rather than
    hand out everything.
    """

    def __init__(self, source: DataSource) -> None:
        self.full = source
        self._views: OrderedDict[Scope, ScopedData] = OrderedDict()
        self._lock = threading.Lock()

    def current(self) -> DataSource:
        """The source for the current request's scope."""
        import flask

        if not flask.has_request_context():
            return self.full
        scope = current_scope()
        if scope is None:
            raise LookupError("no token was checked for this request")
        if scope.unlimited:
            return self.full
        with self._lock:
            view = self._views.get(scope)
            if view is None:
                view = self._views[scope] = ScopedData(self.full, scope)
                while len(self._views) > MAX_SCOPES:
                    self._views.popitem(last=False)
            else:
                self._views.move_to_end(scope)
        return view

    def snapshot(self) -> Snapshot:
        """The latest snapshot the current request may read."""
        return self.current().snapshot()

    def monitor(self) -> MonitorSnapshot:
        """The latest monitor figures the current request may read."""
        return self.current().monitor()
