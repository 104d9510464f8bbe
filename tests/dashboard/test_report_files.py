"""The report as files: the PDF opens and holds the headline numbers, the DOCX opens and
holds the same tables, a server without a Chinese font says so."""

from __future__ import annotations

import io

import pytest

from dashboard import report_files
from tests.dashboard.builders import T0, VIEWER_TOKEN

BEARER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}


@pytest.fixture
def client(app_and_data):
    app, _ = app_and_data
    return app.server.test_client()


def _summary(client):
    return client.get(
        f"/api/v1/streams/carnival/summary?at={(T0 + 20) * 1000}", headers=BEARER
    ).json


@pytest.mark.skipif(not report_files.cjk_fonts(), reason="no CJK font on this machine")
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_pdf_is_an_a4_document_holding_the_headline_numbers(client, lang):
    from pypdf import PdfReader

    response = client.get(f"/api/v1/streams/carnival/report.pdf?lang={lang}", headers=BEARER)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="livetally_carnival_report_'
    )
    reader = PdfReader(io.BytesIO(response.get_data()))
    page = reader.pages[0]
    width_mm = float(page.mediabox.width) / 72 * 25.4
    assert round(width_mm) == 210 and round(float(page.mediabox.height) / 72 * 25.4) == 297
    content = "".join(p.extract_text() for p in reader.pages)
    total = _summary(client)["total"]
    assert "成都第八届社区邻里节" in content
    for value in (total["peak_concurrent"], total["views"], total["uniques"]):
        assert str(value) in content
    assert ("抖音" if lang == "zh" else "Douyin") in content


def test_the_docx_opens_and_holds_the_report_s_tables(client):
    from docx import Document

    response = client.get("/api/v1/streams/carnival/report.docx?lang=en", headers=BEARER)
    assert response.status_code == 200
    assert response.mimetype.endswith("wordprocessingml.document")
    document = Document(io.BytesIO(response.get_data()))
    assert document.paragraphs[0].text == "成都第八届社区邻里节 · Post-event report"
    cards, partners = document.tables[0], document.tables[1]
    total = _summary(client)["total"]
    assert [c.text for c in cards.rows[0].cells] == ["Peak", "Views", "Uniques", "Partners"]
    assert cards.rows[1].cells[0].text.startswith(str(total["peak_concurrent"]))
    assert [c.text for c in partners.rows[0].cells][:4] == ["Partner", "Peak", "Peak at", "Views"]
    last = [c.text for c in partners.rows[-1].cells]
    assert last[0] == "Total" and last[3] == str(total["views"])
    texts = [p.text for p in document.paragraphs]
    assert "Methodology" in texts


def test_a_server_without_a_chinese_font_answers_503_saying_what_to_install(client, monkeypatch):
    monkeypatch.setattr(report_files, "cjk_fonts", lambda: ())
    response = client.get("/api/v1/streams/carnival/report.pdf", headers=BEARER)
    assert response.status_code == 503
    assert "fonts-noto-cjk" in response.json["detail"]


def test_report_files_need_a_token_and_a_known_stream_and_language(client):
    assert client.get("/api/v1/streams/carnival/report.docx").status_code == 401
    assert client.get("/api/v1/streams/nope/report.docx", headers=BEARER).status_code == 404
    bad = client.get("/api/v1/streams/carnival/report.pdf?lang=fr", headers=BEARER)
    assert bad.status_code == 400


def test_the_docx_holds_names_with_control_characters(sample_snapshot):
    from dataclasses import replace

    from docx import Document

    from contract.registry import Stream
    from dashboard.report import build_report

    registry = sample_snapshot.registry
    odd = replace(registry, streams={"carnival": Stream("carnival", "Gala\x07 night\x00")})
    report = build_report(replace(sample_snapshot, registry=odd), "carnival", "en", T0 + 30)
    document = Document(io.BytesIO(report_files.report_docx(report)))
    assert document.paragraphs[0].text == "Gala\ufffd night\ufffd · Post-event report"
