"""The HTTP API on the dashboard's Flask server: health, streams, summaries, series, exports."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import flask
import orjson

from contract.programme import slots as programme_slots
from contract.registry import Segment, Stream
from dashboard.admin import segment_json
from dashboard.auth import WWW_AUTHENTICATE, problem
from dashboard.exceptions import (
    BadParameter,
    DashboardError,
    Forbidden,
    NotAuthorized,
    TooManyRequests,
    UnknownStream,
)
from dashboard.exports import parse_export_request, render_export
from dashboard.i18n import lang_of
from dashboard.inputs import bounded_int
from dashboard.limits import ExportSlots
from dashboard.model import (
    RESOLUTIONS,
    Bucket,
    Figures,
    SeriesResult,
    Snapshot,
    StreamSummary,
    parse_instant,
    rfc3339,
    stream_series,
    summarize,
)
from dashboard.scope import RequestData, current_scope

__all__ = [
    "MAX_ALERTS_LISTED",
    "MAX_BUCKETS",
    "MAX_CELLS",
    "SLOTS_EXTENSION",
    "register_api",
    "segments_json",
    "series_json",
    "summary_json",
]

MAX_BUCKETS = 20_000
"""The most buckets one series request may ask for."""
MAX_CELLS = 240_000
"""The most buckets one series request may ask for, summed over the total and partners."""


def _figures_json(figures: Figures, tz: str) -> dict[str, Any]:
    return {
        "concurrent": figures.concurrent,
        "peak_concurrent": figures.peak_concurrent,
        "peak_at": None if figures.peak_at is None else rfc3339(figures.peak_at, tz),
        "views": figures.views,
        "uniques": figures.uniques,
    }


def segments_json(programme: Sequence[Segment], tz: str) -> list[dict[str, Any]]:
    """A stream's programme, each segment with when it ends."""
    return [segment_json(slot.segment, slot.end, tz) for slot in programme_slots(programme)]


def summary_json(summary: StreamSummary) -> dict[str, Any]:
    """The summary response body."""
    tz = summary.stream.tz
    platforms: dict[str, Any] = {}
    for p in summary.partners:
        last = p.last_event_ts
        platforms[p.id] = {
            **_figures_json(p.figures, tz),
            "name": p.name,
            "name_en": p.name_en,
            "status": p.status,
            "last_event_at": None if last is None else rfc3339(last // 1000, tz),
        }
    return {
        "stream": summary.stream.id,
        "as_of": rfc3339(summary.second, tz),
        "total": _figures_json(summary.total, tz),
        "segment": None
        if summary.segment is None
        else segment_json(summary.segment.segment, summary.segment.end, tz),
        "platforms": platforms,
    }


def _bucket_json(bucket: Bucket) -> dict[str, int]:
    return {
        "concurrent": bucket.concurrent,
        "peak_concurrent": bucket.peak_concurrent,
        "views": bucket.views,
        "uniques": bucket.uniques,
        "new_views": bucket.new_views,
    }


def series_json(series: SeriesResult, resolution: str) -> dict[str, Any]:
    """The series response body: one entry per bucket with the total and every partner."""
    tz = series.stream.tz
    buckets = []
    for i, total in enumerate(series.total):
        buckets.append(
            {
                "start": rfc3339(total.start, tz),
                "total": _bucket_json(total),
                "platforms": {p: _bucket_json(b[i]) for p, b in series.platforms.items()},
            }
        )
    return {
        "stream": series.stream.id,
        "resolution": resolution,
        "from": rfc3339(series.start, tz),
        "to": rfc3339(series.end, tz),
        "buckets": buckets,
    }


def _json(body: Any, status: int = 200) -> flask.Response:
    return flask.Response(orjson.dumps(body), status=status, mimetype="application/json")


_DIGITS = re.compile(r"[0-9]{1,6}")
SLOTS_EXTENSION = "livetally_export_slots"
"""Key of the app's ``ExportSlots`` in ``flask.Flask.extensions``."""
MAX_ALERTS_LISTED = 1000
"""The most alerts one ``/alerts`` request returns."""


def _choice(name: str, default: str, options: tuple[str, ...]) -> str:
    value = flask.request.args.get(name, default)
    if value not in options:
        raise BadParameter(name, f"must be one of {', '.join(options)}")
    return value


def _holder() -> str:
    key: str = flask.g.get("livetally_token_key", "")
    return key


def register_api(
    server: flask.Flask,
    data: RequestData,
    clock: Callable[[], float] = time.time,
    slots: ExportSlots | None = None,
) -> None:
    """Add the health check and the ``/api/v1`` routes to a Flask server.

    ``slots`` limits how many exports and reports run at once (per token and in all).
    """
    limits = slots if slots is not None else ExportSlots(per_token=2, total=4)
    server.extensions[SLOTS_EXTENSION] = limits

    @server.errorhandler(DashboardError)
    def dashboard_error(error: DashboardError) -> flask.Response:
        response = problem(error.status, error.title, error.detail)
        if isinstance(error, NotAuthorized):  # a 401 names the scheme (RFC 9110)
            response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        if isinstance(error, TooManyRequests):
            response.headers["Retry-After"] = str(error.retry_after_s)
        return response

    def readable(snapshot: Snapshot, stream: str) -> Stream:
        """The stream, if the request's token may read it: 403 for a stream that exists
        but is outside the token's scope, 404 for one that does not exist."""
        try:
            return snapshot.stream(stream)
        except UnknownStream:
            scope = current_scope()
            if scope is not None and not scope.unlimited:
                try:
                    data.full.snapshot().stream(stream)
                except UnknownStream:
                    pass
                else:
                    raise Forbidden(f"this token may not read stream {stream!r}") from None
            raise

    def healthz() -> flask.Response:
        return _json({"status": "ok"})

    def streams() -> flask.Response:
        snapshot = data.snapshot()
        return _json(
            {"streams": [{"id": s.id, "title": s.title, "tz": s.tz} for s in snapshot.streams()]}
        )

    def summary(stream: str) -> flask.Response:
        snapshot = data.snapshot()
        found = readable(snapshot, stream)
        now = clock()
        at = flask.request.args.get("at")
        second = int(now) if at is None else parse_instant(at, found.tz, "at")
        return _json(summary_json(summarize(snapshot, stream, second, int(now * 1000))))

    def series(stream: str) -> flask.Response:
        snapshot = data.snapshot()
        found = readable(snapshot, stream)
        args = flask.request.args
        resolution = _choice("resolution", "1m", tuple(RESOLUTIONS))
        start = args.get("from")
        end = args.get("to")
        result = stream_series(
            snapshot,
            stream,
            width=RESOLUTIONS[resolution],
            start=None if start is None else parse_instant(start, found.tz, "from"),
            end=int(clock()) if end is None else parse_instant(end, found.tz, "to"),
            max_buckets=MAX_BUCKETS,
            max_cells=MAX_CELLS,
        )
        return _json(series_json(result, resolution))

    def export(stream: str) -> flask.Response:
        snapshot = data.snapshot()
        found = readable(snapshot, stream)
        request = parse_export_request(found.id, flask.request.args, found.tz)
        with limits.slot(_holder()):
            result = render_export(snapshot, request, int(clock()))
        response = flask.Response(result.content, mimetype=result.media_type)
        response.headers["Content-Disposition"] = f'attachment; filename="{result.filename}"'
        response.headers["Cache-Control"] = "no-store"
        return response

    def report(stream: str) -> flask.Response:
        from dashboard.report import report_html

        lang = _choice("lang", "zh", ("zh", "en"))
        snapshot = data.snapshot()
        found = readable(snapshot, stream)
        with limits.slot(_holder()):
            body = report_html(snapshot, found.id, lang_of(lang), int(clock()))
        response = flask.Response(body, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response

    def report_file(stream: str, kind: str) -> flask.Response:
        from dashboard.report import build_report
        from dashboard.report_files import DOCX_TYPE, PDF_TYPE, report_docx, report_pdf

        lang = _choice("lang", "zh", ("zh", "en"))
        snapshot = data.snapshot()
        found = readable(snapshot, stream)
        now = int(clock())
        with limits.slot(_holder()):
            built = build_report(snapshot, found.id, lang_of(lang), now)
            body = report_pdf(built) if kind == "pdf" else report_docx(built)
        response = flask.Response(body, mimetype=PDF_TYPE if kind == "pdf" else DOCX_TYPE)
        stamp = time.strftime("%Y%m%d-%H%M", time.gmtime(now))
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", found.id)
        name = f"livetally_{safe}_report_{lang}_{stamp}Z.{kind}"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        response.headers["Cache-Control"] = "no-store"
        return response

    def report_pdf_route(stream: str) -> flask.Response:
        return report_file(stream, "pdf")

    def report_docx_route(stream: str) -> flask.Response:
        return report_file(stream, "docx")

    def alerts(stream: str) -> flask.Response:
        found = readable(data.snapshot(), stream)
        raw = flask.request.args.get("limit", "100")
        limit = bounded_int(int(raw), 1, MAX_ALERTS_LISTED) if _DIGITS.fullmatch(raw) else None
        if limit is None:
            raise BadParameter("limit", f"must be a whole number from 1 to {MAX_ALERTS_LISTED}")
        listed = data.monitor().alerts_for(found.id, limit=limit)
        return _json({"stream": found.id, "alerts": [a.to_json() for a in listed]})

    def segments(stream: str) -> flask.Response:
        snapshot = data.snapshot()
        found = readable(snapshot, stream)
        programme = snapshot.registry.programme(found.id)
        return _json({"stream": found.id, "segments": segments_json(programme, found.tz)})

    def unknown_api(rest: str) -> flask.Response:
        return problem(404, "Not found", f"no API route /api/{rest}")

    server.add_url_rule("/healthz", "livetally_healthz", healthz)
    server.add_url_rule("/api/v1/streams", "livetally_streams", streams)
    server.add_url_rule("/api/v1/streams/<stream>/summary", "livetally_summary", summary)
    server.add_url_rule("/api/v1/streams/<stream>/series", "livetally_series", series)
    server.add_url_rule("/api/v1/streams/<stream>/export", "livetally_export", export)
    server.add_url_rule("/api/v1/streams/<stream>/report", "livetally_report", report)
    server.add_url_rule(
        "/api/v1/streams/<stream>/report.pdf", "livetally_report_pdf", report_pdf_route
    )
    server.add_url_rule(
        "/api/v1/streams/<stream>/report.docx", "livetally_report_docx", report_docx_route
    )
    server.add_url_rule("/api/v1/streams/<stream>/alerts", "livetally_alerts", alerts)
    server.add_url_rule("/api/v1/streams/<stream>/segments", "livetally_segments", segments)
    server.add_url_rule("/api/<path:rest>", "livetally_api_404", unknown_api)
