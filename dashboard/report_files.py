"""The report as files: an A4 PDF (WeasyPrint renders the HTML report) and a Word document
(python-docx writes the same numbers and tables) for editors who paste into their own
write-up. Both are built from one ``dashboard.report.Report``."""

from __future__ import annotations

import functools
import io
import logging
import re
import shutil
import subprocess

from dashboard.exceptions import FontMissing
from dashboard.i18n import text
from dashboard.report import Report, markdown_plain, render_html

__all__ = ["DOCX_TYPE", "PDF_TYPE", "cjk_fonts", "report_docx", "report_pdf"]

logger = logging.getLogger(__name__)

PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_INSTALL = "install one (Debian: apt-get install fonts-noto-cjk) and restart the dashboard"


@functools.cache
def cjk_fonts() -> tuple[str, ...]:
    """The font families fontconfig has for Chinese (asked once per process)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return ()
    try:
        found = subprocess.run(  # noqa: S603  # a fixed program and arguments
            [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("could not list fonts: %s", exc)
        return ()
    return tuple(sorted({line.split(",")[0].strip() for line in found.splitlines() if line}))


def report_pdf(report: Report) -> bytes:
    """The report as an A4 PDF; ``FontMissing`` (503) when no Chinese font is installed,
    since stream and partner names would print as empty boxes."""
    if not cjk_fonts():
        raise FontMissing(f"the server has no font for Chinese text to put in the PDF: {_INSTALL}")
    from weasyprint import HTML

    pdf: bytes = HTML(string=render_html(report), url_fetcher=_no_fetch).write_pdf()
    return pdf


def _no_fetch(url: str, *_args: object, **_kwargs: object) -> dict[str, object]:
    """The report is self-contained: WeasyPrint may fetch nothing."""
    raise ValueError(f"the report fetches no resources ({url[:40]!r} refused)")


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters an XML document (a .docx) cannot hold; registered names may have them."""


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def report_docx(report: Report) -> bytes:
    """The report as a Word document: title, period, headline numbers and every table, then
    the methodology. The charts are in the PDF (Word documents cannot hold SVG)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = "Noto Sans CJK SC"
    normal.font.size = Pt(10)
    # Word picks the font of Chinese characters from the East Asian slot.
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "Noto Sans CJK SC")
    document.add_heading(_xml(report.title), level=1)
    document.add_paragraph(_xml(report.meta))
    document.add_heading(text("report.headline", report.lang), level=2)
    cards = document.add_table(rows=2, cols=len(report.cards))
    cards.style = "Table Grid"
    for i, card in enumerate(report.cards):
        cards.cell(0, i).text = _xml(card.label)
        value = card.shown + (f" ({card.exact})" if card.exact else "")
        cards.cell(1, i).text = _xml(value + (f"\n{card.note}" if card.note else ""))
    for table in report.tables:
        document.add_heading(_xml(table.heading), level=2)
        rows = [*table.rows, *([table.total] if table.total is not None else [])]
        grid = document.add_table(rows=1 + len(rows), cols=len(table.heads))
        grid.style = "Table Grid"
        for c, (label, _) in enumerate(table.heads):
            grid.cell(0, c).text = _xml(label)
        for r, row in enumerate(rows, start=1):
            for c, (value, (_, numeric)) in enumerate(zip(row, table.heads, strict=True)):
                cell = grid.cell(r, c)
                cell.text = _xml(value)
                if numeric:
                    cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    document.add_heading(text("export.methodology", report.lang), level=2)
    for line in report.methodology.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("```"):
            continue
        if stripped.startswith("#"):
            document.add_heading(_xml(markdown_plain(stripped.lstrip("#").strip())), level=3)
        elif stripped.startswith("- "):
            document.add_paragraph(_xml(markdown_plain(stripped[2:])), style="List Bullet")
        else:
            document.add_paragraph(_xml(markdown_plain(stripped)))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
