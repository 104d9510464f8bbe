"""The Quix Streams peer: the worker's own events topic counted as a Quix Streams user would.

It reads the very records the aggregation part pre-fills for livetally's worker (ingest's
JSON batches, or bundles of them) and writes, per partner, a row for every whole second of
event time whose numbers changed: concurrent viewers, views and uniques. The pipeline is
the documented one: records are expanded into batches, re-keyed by partner with
``group_by`` (a repartition topic), expanded into one row per event, and each event updates
the partner's state in RocksDB (with its changelog topic); the rows go to an output topic.

Exact, as docs/metrics.md defines them: the final views and uniques per partner. Every
session and every viewer is a key in the partner's state, so duplicates and order change
nothing; a reports-mode partner's views and uniques are the largest it reported.

Not exact: concurrency per second. Events are applied in arrival order; a second is closed
(written out) once an event of the partner lies after it, after closing the sessions whose
timeout fell due by then. A late event changes only seconds still open: a late leave ends
its session from now on, a late join counts from now on, and a heartbeat whose timeout has
already passed is ignored. A leave ends a session only if no later start was seen, and a
start at or before the leave that ended a session does not reopen it. Reports count as
concurrent from the arrival of the newest one, for 120 s of event time. All events are
taken as valid and of one stream. The per-partner totals are also kept in process memory
and served on ``/healthz`` so the bench can check them.

Run: ``python -m livetally.bench.quix BOOTSTRAP TOPIC GROUP WEB_PORT STATE_DIR``
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import orjson

from contract.records import DEFAULT_TIMEOUT_MS
from livetally.bench.eventlog import Batch

__all__ = [
    "COMMIT_INTERVAL_S",
    "KeyValue",
    "Totals",
    "apply_event",
    "batch_events",
    "create_app",
    "exact_totals",
    "is_repartition_topic",
    "main",
    "record_batches",
    "serve_totals",
]

COMMIT_INTERVAL_S = 1.0
"""Quix's checkpoint interval: its default is 5 s; the bench times commits, so 1 s (Faust's
default is 2.8 s) keeps the end of the run from waiting on one."""
REPORT_STALE_MS = 120_000
"""A report counts as a partner's concurrency for this long (docs/metrics.md)."""

Totals = dict[str, tuple[int, int]]
"""Partner → (views, uniques)."""
Row = dict[str, int]
"""One closed second of a partner: ``second``, ``concurrent``, ``views``, ``uniques``."""


class KeyValue(Protocol):
    """The part of Quix's ``State`` the counting uses (a dict-backed fake in the tests)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...


def record_batches(value: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The batches of a record: its own (version 1) or those of a bundle (version 2)."""
    if value.get("v") == 2:
        return list(value["batches"])
    return [value]


def batch_events(batch: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The events of a batch, each given the batch's partner and session timeout."""
    platform = batch["platform"]
    timeout_ms = batch.get("timeout_ms", DEFAULT_TIMEOUT_MS)
    events: list[dict[str, Any]] = batch["events"]
    for event in events:
        event["platform"] = platform
        event["timeout_ms"] = timeout_ms
    return events


def _second_after(ms: int) -> int:
    """The first whole second at or after ``ms``."""
    return -(-ms // 1000)


def apply_event(
    state: KeyValue, event: Mapping[str, Any], totals: Totals | None = None
) -> list[Row]:
    """Count one event into its partner's ``state``; return the seconds it closed whose
    numbers differ from the second before (the rows a reader holds on to). ``totals``, if
    given, gets the partner's views and uniques whenever they change.

    State keys: ``clock`` (last closed second), ``open``, ``views``, ``uniques``,
    ``shown`` = the numbers of the last row,
    ``s:SESSION`` = [last start or leave ms, online until ms or 0 when offline],
    ``v:VIEWER``, ``x:SECOND`` = sessions whose timeout falls due at that second,
    ``report`` = [ts, concurrent] of the newest report.
    """
    ts: int = event["ts"]
    rows, clock = _close_seconds(state, (ts - 1) // 1000)
    if event["type"] == "count":
        changed = _apply_report(state, event)
    else:
        changed = _apply_session_event(state, event, clock)
    if changed and totals is not None:
        totals[event["platform"]] = (state.get("views", 0), state.get("uniques", 0))
    return rows


def _reported(report: list[int] | None, at_ms: int) -> int:
    if report is None or not report[0] <= at_ms < report[0] + REPORT_STALE_MS:
        return 0
    return report[1]


def _close_seconds(state: KeyValue, upto: int) -> tuple[list[Row], int]:
    """Close the seconds up to ``upto``; the rows of those that changed, the last closed."""
    clock: int | None = state.get("clock")
    if clock is None:
        state.set("clock", upto)
        return [], upto
    if upto <= clock:
        return [], clock
    online: int = state.get("open", 0)
    views: int = state.get("views", 0)
    uniques: int = state.get("uniques", 0)
    report: list[int] | None = state.get("report")
    shown: list[int] = state.get("shown", [0, 0, 0])
    rows: list[Row] = []
    for second in range(clock + 1, upto + 1):
        at_ms = second * 1000
        due: list[str] | None = state.get(f"x:{second}")
        if due is not None:
            state.delete(f"x:{second}")
            for session_id in due:
                key = f"s:{session_id}"
                last, until = state.get(key)
                if until and until <= at_ms:  # not extended since it was put here
                    state.set(key, [last, 0])
                    online -= 1
        now = [online + _reported(report, at_ms), views, uniques]
        if now != shown:
            shown = now
            rows.append(
                {"second": second, "concurrent": now[0], "views": views, "uniques": uniques}
            )
    if rows:
        state.set("shown", shown)
    state.set("open", online)
    state.set("clock", upto)
    return rows, upto


def _apply_report(state: KeyValue, event: Mapping[str, Any]) -> bool:
    ts: int = event["ts"]
    concurrent = event.get("concurrent") or 0
    report: list[int] | None = state.get("report")
    if report is None or ts > report[0]:
        state.set("report", [ts, concurrent])
    elif ts == report[0] and concurrent > report[1]:
        state.set("report", [ts, concurrent])  # two reports of one instant: their maximum
    changed = False
    for name, field in (("views", "cumulative"), ("uniques", "uniques")):
        value = event.get(field) or 0
        if value > state.get(name, 0):
            state.set(name, value)
            changed = True
    return changed


def _due(state: KeyValue, session_id: str, until: int) -> None:
    bucket = f"x:{_second_after(until)}"
    due: list[str] | None = state.get(bucket)
    state.set(bucket, [*due, session_id] if due else [session_id])


def _apply_session_event(state: KeyValue, event: Mapping[str, Any], clock: int) -> bool:
    """Apply a join, heartbeat or leave; True if views or uniques changed."""
    ts: int = event["ts"]
    session_id: str = event["session_id"]
    changed = False
    viewer_key = f"v:{event.get('viewer_id') or session_id}"
    if not state.exists(viewer_key):
        state.set(viewer_key, 1)
        state.set("uniques", state.get("uniques", 0) + 1)
        changed = True
    key = f"s:{session_id}"
    session: list[int] | None = state.get(key)
    if session is None:
        state.set("views", state.get("views", 0) + 1)
        changed = True
    if event["type"] == "leave":
        if session is None or (not session[1] and ts > session[0]):
            state.set(key, [ts, 0])
        elif session[1] and ts >= session[0]:
            state.set(key, [ts, 0])
            state.set("open", state.get("open", 0) - 1)
        return changed
    until = ts + int(event.get("timeout_ms") or DEFAULT_TIMEOUT_MS)
    if _second_after(until) <= clock:
        # Online only at seconds already closed: counted as a view, not as concurrent.
        if session is None:
            state.set(key, [ts, 0])
        return changed
    if session is None or not session[1]:
        if session is None or ts > session[0]:  # not at or before what ended it
            state.set(key, [ts, until])
            state.set("open", state.get("open", 0) + 1)
            _due(state, session_id, until)
    elif until > session[1]:
        state.set(key, [max(ts, session[0]), until])
        _due(state, session_id, until)
    return changed


def exact_totals(batches: Iterable[Batch]) -> Totals:
    """Views and uniques per partner over ``batches``, as docs/metrics.md defines them."""
    sessions: dict[str, set[str]] = {}
    viewers: dict[str, set[str]] = {}
    reported: dict[str, list[int]] = {}
    for batch in batches:
        for _, event in batch.events:
            if event["type"] == "count":
                best = reported.setdefault(batch.partner, [0, 0])
                best[0] = max(best[0], event.get("cumulative") or 0)
                best[1] = max(best[1], event.get("uniques") or 0)
                continue
            session_id = event["session_id"]
            sessions.setdefault(batch.partner, set()).add(session_id)
            viewers.setdefault(batch.partner, set()).add(event.get("viewer_id") or session_id)
    totals: Totals = {p: (len(s), len(viewers[p])) for p, s in sessions.items()}
    for partner, (views, uniques) in reported.items():
        totals[partner] = (views, uniques)
    return totals


def is_repartition_topic(name: str, group: str) -> bool:
    """Whether ``name`` is a repartition topic Quix made for the app of ``group``."""
    return name.startswith(f"repartition__{group}--")


def serve_totals(port: int, totals: Totals) -> ThreadingHTTPServer:
    """``GET /healthz`` on 127.0.0.1:``port`` in a thread: status and the totals so far."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            if self.path != "/healthz":
                self.send_error(404)
                return
            body = orjson.dumps({"status": "ok", "totals": dict(totals)})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="healthz", daemon=True).start()
    return server


def create_app(bootstrap: str, topic: str, group: str, state_dir: str, totals: Totals) -> Any:
    """The Quix Streams application on ``topic``; ``totals`` follows its state."""
    from quixstreams import Application, State

    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        commit_interval=COMMIT_INTERVAL_S,
        loglevel="WARNING",
    )
    events = app.topic(topic, value_deserializer="json")
    seconds = app.topic(f"{group}.seconds", key_serializer="json", value_serializer="json")

    def count(event: dict[str, Any], state: State[Any, Any]) -> list[Row]:
        return apply_event(state, event, totals)

    sdf = app.dataframe(events)
    sdf = sdf.apply(record_batches, expand=True)
    sdf = sdf.group_by(lambda batch: batch["platform"], name="partner")
    sdf = sdf.apply(batch_events, expand=True)
    sdf = sdf.apply(count, stateful=True, expand=True)
    sdf.to_topic(seconds)
    return app


def main(argv: list[str] | None = None) -> None:
    """Run the app until it is stopped (SIGTERM)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 5:
        raise SystemExit(__doc__)
    bootstrap, topic, group, port, state_dir = args
    totals: Totals = {}
    server = serve_totals(int(port), totals)
    try:
        create_app(bootstrap, topic, group, state_dir, totals).run()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
