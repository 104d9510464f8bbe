"""Exports of a stream's buckets as CSV, Excel, Parquet or JSON, and ``livetally export``.

Building the table is pure pandas on the series model (``model.stream_series``); the same
``render_export`` serves the HTTP route and the CLI, so both write the same file.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from contract.programme import slots
from contract.registry import Segment
from contract.settings import Settings
from dashboard.exceptions import BadParameter, DashboardError
from dashboard.i18n import Lang, text
from dashboard.methodology import methodology_lines
from dashboard.model import (
    RESOLUTIONS,
    SeriesResult,
    Snapshot,
    StreamSummary,
    parse_instant,
    rfc3339,
    stream_series,
    summarize,
)
from dashboard.segments import peak_segment

__all__ = [
    "COLUMNS",
    "FORMATS",
    "MAX_EXPORT_BUCKETS",
    "MAX_EXPORT_ROWS",
    "MAX_XLSX_ROWS",
    "ExportFile",
    "ExportFormat",
    "ExportRequest",
    "FORMULA_TRIGGERS",
    "TIME_FORMAT",
    "export_command",
    "export_frame",
    "inert_text",
    "parse_export_request",
    "render_export",
    "segment_titles",
    "summary_rows",
]

logger = logging.getLogger(__name__)

ExportFormat = Literal["csv", "xlsx", "parquet", "json"]
FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
    "json": ("application/json", "json"),
}
"""Media type and file extension by format."""
COLUMNS = (
    "time",
    "platform",
    "platform_name",
    "concurrent",
    "peak_concurrent",
    "views",
    "uniques",
    "new_views",
    "segment",
)
"""The export's columns (English headers); ``segment`` is the programme segment on at the
bucket's start (empty outside the programme)."""
_HEADERS_ZH = {
    "time": "时间",
    "platform": "平台代码",
    "platform_name": "平台名称",
    "concurrent": "在线人数",
    "peak_concurrent": "峰值在线人数",
    "views": "观看人次",
    "uniques": "观众人数",
    "new_views": "新增观看人次",
    "segment": "节目",
}
TOTAL_ID = "total"
MAX_EXPORT_BUCKETS = 20_000
"""The most buckets one export may hold."""
MAX_EXPORT_ROWS = 240_000
"""The most rows (buckets x (partners + 1)) one CSV, JSON or Parquet export may hold."""
MAX_XLSX_ROWS = 50_000
"""The most rows one Excel export may hold (openpyxl writes ~50,000 cells a second)."""
_COUNTS = COLUMNS[3:8]


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What to export: validated parameters, times as epoch seconds (None: the data's edge)."""

    stream: str
    fmt: ExportFormat
    resolution: str
    lang: Lang
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A finished export."""

    content: bytes
    media_type: str
    filename: str


def parse_export_request(stream: str, args: Mapping[str, str | None], tz: str) -> ExportRequest:
    """Check the export parameters (``format``, ``resolution``, ``lang``, ``from``, ``to``)."""
    fmt = args.get("format") or "csv"
    if fmt not in FORMATS:
        raise BadParameter("format", f"must be one of {', '.join(FORMATS)}")
    resolution = args.get("resolution") or "1m"
    if resolution not in RESOLUTIONS:
        raise BadParameter("resolution", f"must be one of {', '.join(RESOLUTIONS)}")
    lang = args.get("lang") or "zh"
    if lang not in ("zh", "en"):
        raise BadParameter("lang", "must be zh or en")
    start_raw, end_raw = args.get("from"), args.get("to")
    return ExportRequest(
        stream=stream,
        fmt=fmt,  # type: ignore[arg-type]  # checked above
        resolution=resolution,
        lang="en" if lang == "en" else "zh",
        start=None if start_raw is None else parse_instant(start_raw, tz, "from"),
        end=None if end_raw is None else parse_instant(end_raw, tz, "to"),
    )


def headers(lang: Lang) -> list[str]:
    """Column headers in a language."""
    return [_HEADERS_ZH[c] for c in COLUMNS] if lang == "zh" else list(COLUMNS)


def segment_titles(starts: Sequence[int], programme: Sequence[Segment], lang: Lang) -> list[str]:
    """The title (in ``lang``) of the segment on at each of ``starts`` (ascending seconds);
    empty where none is."""
    timeline = slots(programme)
    titles: list[str] = []
    i = 0
    for second in starts:
        while i + 1 < len(timeline) and timeline[i + 1].start <= second:
            i += 1
        on = timeline[i] if timeline and timeline[i].covers(second) else None
        titles.append("" if on is None else on.segment.display_title(lang))
    return titles


def export_frame(
    series: SeriesResult,
    names: Mapping[str, str],
    lang: Lang,
    programme: Sequence[Segment] = (),
) -> pd.DataFrame:
    """One row per bucket and partner, the total first within each bucket; headers per language.

    ``names`` maps partner ids to display names in ``lang``; ``time`` is the bucket start,
    a ``datetime64[ms, tz]`` in the stream's time zone (CSV and JSON write it as RFC 3339
    text, Excel as a date-time cell, Parquet as a timestamp with the zone); ``segment``
    the title of the ``programme`` segment on at that start.
    """
    tz = series.stream.tz
    total_name = text("total", lang)
    parts = [(TOTAL_ID, total_name, series.total)]
    parts += [(p, names.get(p, p), buckets) for p, buckets in sorted(series.platforms.items())]
    titles = segment_titles([b.start for b in series.total], programme, lang)
    rows: list[tuple[object, ...]] = []
    for i, bucket in enumerate(series.total):
        when = bucket.start
        for pid, name, buckets in parts:
            b = buckets[i]
            rows.append(
                (
                    when,
                    pid,
                    name,
                    b.concurrent,
                    b.peak_concurrent,
                    b.views,
                    b.uniques,
                    b.new_views,
                    titles[i],
                )
            )
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["time"] = (
        pd.to_datetime(frame["time"].astype("int64"), unit="s", utc=True)
        .dt.tz_convert(tz)
        .astype(f"datetime64[ms, {tz}]")
    )
    for column in _COUNTS:
        frame[column] = frame[column].astype("int64")
    frame.columns = pd.Index(headers(lang))
    return frame


def _peak_segment(summary: StreamSummary, programme: Sequence[Segment], lang: Lang) -> str:
    segment = peak_segment(programme, summary.total.peak_at)
    return "" if segment is None else segment.display_title(lang)


def summary_rows(
    summary: StreamSummary,
    series: SeriesResult,
    resolution: str,
    lang: Lang,
    programme: Sequence[Segment] = (),
) -> list[tuple[str, str | int]]:
    """The summary sheet: what was exported and the headline numbers at its end."""
    tz = summary.stream.tz
    total = summary.total
    rows: list[tuple[str, str | int]] = [
        (text("export.stream", lang), summary.stream.title),
        (text("export.stream_id", lang), summary.stream.id),
        (text("export.tz", lang), tz),
        (text("export.from", lang), rfc3339(series.start, tz)),
        (text("export.to", lang), rfc3339(series.end, tz)),
        (text("export.resolution", lang), resolution),
        (text("concurrent", lang), total.concurrent),
        (text("peak", lang), total.peak_concurrent),
        (text("peak_at", lang), "" if total.peak_at is None else rfc3339(total.peak_at, tz)),
        (text("export.peak_segment", lang), _peak_segment(summary, programme, lang)),
        (text("views", lang), total.views),
        (text("uniques", lang), total.uniques),
    ]
    for p in sorted(summary.partners, key=lambda p: (-p.figures.views, p.id)):
        rows.append(
            (
                f"{p.display_name(lang)} ({p.id})",
                f"{text('peak', lang)} {p.figures.peak_concurrent}, "
                f"{text('views', lang)} {p.figures.views}, "
                f"{text('uniques', lang)} {p.figures.uniques}",
            )
        )
    return rows


TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
"""Number format of the Excel time cells."""

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is a formula to Excel, LibreOffice or Sheets."""


def inert_text(value: str) -> str:
    """A CSV text cell that no spreadsheet evaluates: formula-looking text gets a leading '."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def _text_times(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its time column as RFC 3339 text (the same text as the API's)."""
    column = frame.columns[0]
    texts = {t: t.isoformat() for t in frame[column].unique()}
    out = frame.copy()
    out[column] = frame[column].map(texts)
    return out


def _csv(frame: pd.DataFrame) -> bytes:
    inert = _text_times(frame)
    for column in inert.columns:
        if not pd.api.types.is_numeric_dtype(inert[column]):
            inert[column] = [inert_text(v) if isinstance(v, str) else v for v in inert[column]]
    # A byte-order mark so that Excel opens the Chinese text as UTF-8.
    csv: str = inert.to_csv(index=False, lineterminator="\n")
    return csv.encode("utf-8-sig")


def _json(frame: pd.DataFrame) -> bytes:
    body: str = _text_times(frame).to_json(orient="records", force_ascii=False)
    return body.encode("utf-8")


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=False)
    return buffer.getvalue()


def _xlsx(frame: pd.DataFrame, summary: list[tuple[str, str | int]], lang: Lang) -> bytes:
    """The workbook, written row by row (openpyxl's write-only mode keeps memory flat).

    Every text is written as an explicit string cell, so a name such as ``=HYPERLINK(…)``
    shows as the text it is and is never evaluated.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(text("export.sheet_data", lang))
    info = book.create_sheet(text("export.sheet_summary", lang))

    def cell(target: Any, value: object, **style: Any) -> WriteOnlyCell:
        if isinstance(value, str):
            # Control characters are not allowed in the file format (openpyxl refuses
            # them); registered names may hold them if written straight to the registry.
            value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
        written = WriteOnlyCell(target, value=value)
        if isinstance(value, str):
            written.data_type = "s"
        for name, setting in style.items():
            setattr(written, name, setting)
        return written

    header = {
        "font": Font(bold=True, color="FFFFFF"),
        "fill": PatternFill("solid", fgColor="1B1F29"),
        "alignment": Alignment(horizontal="center"),
    }
    sheet.freeze_panes = "A2"
    widths = (27, 12, 22, 12, 14, 12, 12, 14, 24)
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.append([cell(sheet, str(name), **header) for name in frame.columns])
    for row in frame.itertuples(index=False):
        # Excel has no time zones: the wall-clock time in the stream's zone (the summary
        # sheet names the zone), formatted as a date-time so it sorts, filters and charts.
        when = row[0].tz_localize(None).to_pydatetime()
        rest = [cell(sheet, v.item() if hasattr(v, "item") else v) for v in row[1:]]
        sheet.append([cell(sheet, when, number_format=TIME_FORMAT), *rest])
    info.column_dimensions["A"].width = 36
    info.column_dimensions["B"].width = 60
    bold = Font(bold=True)
    for label, value in summary:
        info.append([cell(info, label, font=bold), cell(info, value)])
    info.append([])
    title = text("export.methodology", lang)
    info.append([cell(info, title, font=Font(bold=True, size=13))])
    for line in methodology_lines(lang):
        info.append([cell(info, line)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _default_end(snapshot: Snapshot, stream: str, now: int) -> int:
    # A finished stream ends at its last change, not at "now" hours later.
    steps = snapshot.totals.get(stream)
    last = steps.seconds[-1] if steps and steps.seconds else now
    return min(now, last)


def _filename(request: ExportRequest, series: SeriesResult, ext: str) -> str:
    safe = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in request.stream
    )
    start = time.strftime("%Y%m%d-%H%M", time.gmtime(series.start))
    return f"livetally_{safe}_{request.resolution}_{start}Z.{ext}"


def render_export(snapshot: Snapshot, request: ExportRequest, now: int) -> ExportFile:
    """The export file of a request, built from a snapshot (``now`` in epoch seconds)."""
    stream = snapshot.stream(request.stream)
    end = request.end if request.end is not None else _default_end(snapshot, stream.id, now)
    if request.start is not None and request.start > end:
        raise BadParameter("from", "must not be after 'to'")
    series = stream_series(
        snapshot,
        stream.id,
        width=RESOLUTIONS[request.resolution],
        start=request.start,
        end=end,
        max_buckets=MAX_EXPORT_BUCKETS,
        max_cells=MAX_XLSX_ROWS if request.fmt == "xlsx" else MAX_EXPORT_ROWS,
    )
    summary = summarize(snapshot, stream.id, series.end, now * 1000)
    names = {p.id: p.display_name(request.lang) for p in summary.partners}
    programme = snapshot.registry.programme(stream.id)
    frame = export_frame(series, names, request.lang, programme)
    media_type, ext = FORMATS[request.fmt]
    if request.fmt == "csv":
        content = _csv(frame)
    elif request.fmt == "json":
        content = _json(frame)
    elif request.fmt == "parquet":
        content = _parquet(frame)
    else:
        rows = summary_rows(summary, series, request.resolution, request.lang, programme)
        content = _xlsx(frame, rows, request.lang)
    return ExportFile(content, media_type, _filename(request, series, ext))


def export_command(args: argparse.Namespace, settings: Settings, timeout_s: float = 60.0) -> int:
    """``livetally export``: follow Kafka until caught up, then write the same file as the API."""
    from dashboard.data import LiveData

    logging.getLogger("kafka").setLevel(logging.WARNING)
    live = LiveData(settings.kafka)
    live.start()
    try:
        if not live.wait_current(timeout_s):
            print(
                f"livetally: could not read the topics at {settings.kafka.bootstrap} within "
                f"{timeout_s:.0f} s (is Kafka running and the worker started?)",
                file=sys.stderr,
            )
            return 1
        snapshot = live.snapshot()
        try:
            stream = snapshot.stream(args.stream)
            request = parse_export_request(
                stream.id,
                {
                    "format": args.format,
                    "resolution": args.resolution,
                    "lang": args.lang,
                    "from": args.from_,
                    "to": args.to,
                },
                stream.tz,
            )
            export = render_export(snapshot, request, int(time.time()))
        except DashboardError as exc:
            print(f"livetally: {exc.detail}", file=sys.stderr)
            # A bad option (400) is a wrong command line; an unknown stream or an export
            # over the limits is a command that failed.
            return 2 if exc.status == 400 else 1
        output = Path(args.output)
        output.write_bytes(export.content)
        print(f"wrote {output} ({len(export.content):,} bytes, {args.format}, {args.resolution})")
        return 0
    finally:
        live.stop()
