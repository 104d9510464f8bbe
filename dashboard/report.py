"""The one-page printable post-event report (HTML with print CSS and inline SVG charts).

Pure: a snapshot in, an HTML string out. Every piece of user text is escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from contract.programme import slots
from dashboard.figures import chart_width
from dashboard.i18n import Lang, format_number, format_percent, group_digits, text
from dashboard.methodology import methodology_text
from dashboard.model import Snapshot, StreamSummary, figures_at, stream_series, summarize
from dashboard.segments import SegmentFigures, peak_segment, segment_figures
from dashboard.svgcharts import line_chart_svg

__all__ = [
    "Card",
    "Report",
    "ReportTable",
    "build_report",
    "markdown_html",
    "markdown_plain",
    "render_html",
    "report_html",
    "report_range",
]

_CSS = """
@page { size: A4; margin: 12mm; }
body { font-family: "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", "WenQuanYi Micro Hei",
       system-ui, sans-serif; color: #1b1f29; margin: 0 auto; max-width: 186mm;
       font-size: 10pt; }
h1 { font-size: 17pt; margin: 0 0 2mm; } h2 { font-size: 11.5pt; margin: 4mm 0 1.5mm; }
.meta { color: #5b6478; font-size: 8.5pt; }
.cards { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 3mm;
         margin: 3mm 0; }
.card { border: 1px solid #d8dce5; border-radius: 2mm; padding: 2mm 3mm; min-width: 0;
        overflow-wrap: anywhere; }
.card .label { color: #5b6478; font-size: 8.5pt; }
.card .value { font-size: 17pt; font-weight: 700; font-variant-numeric: tabular-nums; }
.card .exact, .card .note { font-size: 8pt; color: #5b6478; }
table { width: 100%; border-collapse: collapse; font-size: 8.5pt; }
th, td { padding: 0.8mm 1.5mm; border-bottom: 1px solid #e6e8ee; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 700; border-top: 1.5px solid #1b1f29; }
.charts { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 3mm; }
@media print { .charts { grid-template-columns: minmax(0, 1fr); } }
.lt-svg-chart { width: 100%; height: auto; }
.lt-svg-title { font-size: 14px; font-weight: 700; fill: #1b1f29; }
.lt-svg-tick { font-size: 11px; fill: #5b6478; }
.lt-svg-grid { stroke: #e6e8ee; stroke-width: 1; }
.lt-svg-band-label { font-size: 9px; fill: #5b6478; }
.method { columns: 2; column-gap: 6mm; font-size: 7pt; line-height: 1.3; color: #333; }
.method h3 { font-size: 8pt; margin: 1.5mm 0 0.5mm; } .method p, .method ul { margin: 0 0 1mm; }
.method ul { padding-left: 4mm; }
.print { float: right; }
@media print { .print { display: none; } }
"""

_INLINE = re.compile(r"\*\*(.+?)\*\*|`([^`]+)`|\*(.+?)\*")


def _inline(raw: str) -> str:
    """Escape a line of Markdown, keeping bold, code and emphasis."""
    out: list[str] = []
    pos = 0
    for match in _INLINE.finditer(raw):
        out.append(escape(raw[pos : match.start()]))
        bold, code, em = match.groups()
        if bold is not None:
            out.append(f"<strong>{escape(bold)}</strong>")
        elif code is not None:
            out.append(f"<code>{escape(code)}</code>")
        else:
            out.append(f"<em>{escape(em)}</em>")
        pos = match.end()
    out.append(escape(raw[pos:]))
    return "".join(out)


def markdown_plain(line: str) -> str:
    """A line of Markdown as plain text: bold, code and emphasis marks dropped."""
    return _INLINE.sub(lambda m: next(g for g in m.groups() if g is not None), line)


def markdown_html(markdown: str) -> str:
    """The small Markdown subset of docs/metrics.md as HTML: headings, bullets, paragraphs."""
    html: list[str] = []
    paragraph: list[str] = []
    in_list = False
    code_block = False

    def flush() -> None:
        if paragraph:
            html.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            code_block = not code_block
            continue
        if code_block:
            continue  # diagrams do not fit a printed page
        if stripped.startswith("- ") or (in_list and line.startswith("  ") and stripped):
            flush()
            if stripped.startswith("- "):
                if not in_list:
                    html.append("<ul>")
                    in_list = True
                html.append(f"<li>{_inline(stripped[2:])}")
            else:
                html.append(" " + _inline(stripped))
            continue
        if in_list:
            html.append("</ul>")
            in_list = False
        if stripped.startswith("#"):
            flush()
            html.append(f"<h3>{_inline(stripped.lstrip('#').strip())}</h3>")
        elif not stripped:
            flush()
        else:
            paragraph.append(stripped)
    flush()
    if in_list:
        html.append("</ul>")
    return "".join(html)


def report_range(snapshot: Snapshot, stream_id: str, now: int) -> tuple[int, int]:
    """The report's range: the stream's first data second through its last change (or now)."""
    steps = snapshot.totals.get(stream_id)
    if not steps or not steps.seconds:
        return now, now
    return steps.seconds[0], min(now, steps.seconds[-1])


def _when(second: int | None, tz: str) -> str:
    if second is None:
        return "–"
    return datetime.fromtimestamp(second, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class Card:
    """A headline number: its label, the number as shown, its exact digits when the shown
    form is rounded (else empty), and a note."""

    label: str
    shown: str
    exact: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class ReportTable:
    """A table of the report: its heading, column heads (label, numeric?), rows, total row."""

    id: str
    heading: str
    heads: tuple[tuple[str, bool], ...]
    rows: tuple[tuple[str, ...], ...]
    total: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the report shows, as text: the HTML, PDF and DOCX files are its views."""

    lang: Lang
    title: str
    meta: str
    cards: tuple[Card, ...]
    charts: tuple[str, ...]
    """Inline SVG charts."""
    tables: tuple[ReportTable, ...]
    methodology: str
    """The brief methodology note, as Markdown."""


def _card(label: str, value: int, lang: Lang, note: str = "") -> Card:
    shown, exact = format_number(value, lang), group_digits(value)
    return Card(label, shown, exact if exact != shown else "", note)


def _clock_of(second: int | None, tz: str) -> str:
    return _when(second, tz)[11:] if second else "–"


def _partners_table(snapshot: Snapshot, summary: StreamSummary, lang: Lang) -> ReportTable:
    tz = summary.stream.tz
    total = summary.total
    platforms = snapshot.platforms.get(summary.stream.id, {})
    rows = []
    for p in sorted(summary.partners, key=lambda p: (-p.figures.views, p.id)):
        f = p.figures
        at_peak = (
            figures_at(platforms.get(p.id), total.peak_at).concurrent
            if total.peak_at is not None
            else 0
        )
        rows.append(
            (
                p.display_name(lang),
                format_number(f.peak_concurrent, lang),
                _clock_of(f.peak_at, tz),
                format_number(f.views, lang),
                format_percent(f.views, total.views),
                format_number(f.uniques, lang),
                format_number(at_peak, lang),
                format_percent(at_peak, total.peak_concurrent),
            )
        )
    heads: tuple[str, ...] = ("partner", "peak", "peak_at", "views", "report.share")
    heads += ("uniques", "report.at_peak", "report.peak_share")
    return ReportTable(
        id="report-partners",
        heading=text("partners", lang),
        heads=tuple((text(h, lang), h != "partner") for h in heads),
        rows=tuple(rows),
        total=(
            text("total", lang),
            format_number(total.peak_concurrent, lang),
            _clock_of(total.peak_at, tz),
            format_number(total.views, lang),
            "100.0%",
            format_number(total.uniques, lang),
            format_number(total.peak_concurrent, lang),
            "100.0%",
        ),
    )


def _segments_table(rows: list[SegmentFigures], tz: str, lang: Lang) -> ReportTable:
    heads: tuple[str, ...] = ("segment", "segment.start", "segment.end", "peak", "peak_at")
    heads += ("segment.views_gained", "segment.avg_concurrent")
    return ReportTable(
        id="report-segments",
        heading=text("segments", lang),
        heads=tuple((text(h, lang), h != "segment") for h in heads),
        rows=tuple(
            (
                row.segment.display_title(lang),
                _when(row.start, tz)[11:16],
                _when(row.end, tz)[11:16],
                format_number(row.peak, lang),
                _clock_of(row.peak_at, tz),
                format_number(row.views_gained, lang),
                format_number(round(row.average_concurrent), lang),
            )
            for row in rows
        ),
    )


def build_report(snapshot: Snapshot, stream_id: str, lang: Lang, now: int) -> Report:
    """The report of a stream, judged at ``now`` (epoch seconds)."""
    stream = snapshot.stream(stream_id)
    tz = stream.tz
    start, end = report_range(snapshot, stream.id, now)
    summary = summarize(snapshot, stream.id, end, now * 1000)
    total = summary.total
    programme = snapshot.registry.programme(stream.id)
    width = chart_width(max(0, end - start))
    series = stream_series(
        snapshot, stream.id, width=width, start=start, end=end, max_buckets=10**9
    )
    seconds = [b.start for b in series.total]
    bands = [
        (slot.start, end + 1 if slot.end is None else slot.end, slot.segment.display_title(lang))
        for slot in slots(programme)
    ]
    charts = (
        line_chart_svg(
            seconds,
            [b.peak_concurrent for b in series.total],
            title=text("chart.title", lang),
            tz=tz,
            lang=lang,
            bands=bands,
        ),
        line_chart_svg(
            seconds,
            [b.views for b in series.total],
            title=text("cumulative.title", lang),
            tz=tz,
            lang=lang,
            bands=bands,
            color="#c2410c",
        ),
    )
    at_peak_segment = peak_segment(programme, total.peak_at)
    peak_note = f"{text('peak_at', lang)} {_when(total.peak_at, tz)}"
    if at_peak_segment is not None:
        peak_note += f" · {text('segment', lang)}: {at_peak_segment.display_title(lang)}"
    tables = [_partners_table(snapshot, summary, lang)]
    per_segment = segment_figures(snapshot.totals.get(stream.id), programme, end)
    if per_segment:
        tables.append(_segments_table(per_segment, tz, lang))
    return Report(
        lang=lang,
        title=f"{stream.title} · {text('report.title', lang)}",
        meta=(
            f"{text('export.from', lang)} {_when(start, tz)} – {_when(end, tz)} ({tz}) · "
            f"{text('report.generated', lang)} {_when(now, tz)}"
        ),
        cards=(
            _card(text("peak", lang), total.peak_concurrent, lang, peak_note),
            _card(text("views", lang), total.views, lang),
            _card(text("uniques", lang), total.uniques, lang),
            _card(text("report.partners_count", lang), len(summary.partners), lang),
        ),
        charts=charts,
        tables=tuple(tables),
        methodology=methodology_text(lang, brief=True),
    )


def _card_html(card: Card) -> str:
    exact = f'<div class="exact">{escape(card.exact)}</div>' if card.exact else ""
    note = f'<div class="note">{escape(card.note)}</div>' if card.note else ""
    return (
        f'<div class="card"><div class="label">{escape(card.label)}</div>'
        f'<div class="value">{escape(card.shown)}</div>{exact}{note}</div>'
    )


def _table_html(table: ReportTable) -> str:
    def cells(values: tuple[str, ...], tag: str) -> str:
        return "".join(
            f'<{tag} class="num">{escape(v)}</{tag}>' if numeric else f"<{tag}>{escape(v)}</{tag}>"
            for v, (_, numeric) in zip(values, table.heads, strict=True)
        )

    header = cells(tuple(label for label, _ in table.heads), "th")
    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in table.rows)
    if table.total is not None:
        body += f'<tr class="total">{cells(table.total, "td")}</tr>'
    return (
        f"<h2>{escape(table.heading)}</h2>"
        f'<table id="{table.id}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'
    )


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (print CSS, inline SVG)."""
    lang = report.lang
    html_lang = "en" if lang == "en" else "zh-CN"
    return (
        f'<!DOCTYPE html><html lang="{html_lang}"><head><meta charset="utf-8">'
        f"<title>{escape(report.title)}</title><style>{_CSS}</style></head><body>"
        f'<button class="print" onclick="window.print()">{escape(text("report.print", lang))}'
        f'</button><h1>{escape(report.title)}</h1><div class="meta">{escape(report.meta)}</div>'
        f"<h2>{escape(text('report.headline', lang))}</h2>"
        f'<div class="cards" id="report-cards">{"".join(map(_card_html, report.cards))}</div>'
        f'<div class="charts">{"".join(report.charts)}</div>'
        f"{''.join(map(_table_html, report.tables))}"
        f"<h2>{escape(text('export.methodology', lang))}</h2>"
        f'<div class="method">{markdown_html(report.methodology)}</div></body></html>'
    )


def report_html(snapshot: Snapshot, stream_id: str, lang: Lang, now: int) -> str:
    """The whole report page for a stream, judged at ``now`` (epoch seconds)."""
    return render_html(build_report(snapshot, stream_id, lang, now))
