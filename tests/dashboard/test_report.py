"""The printable report: numbers equal the summary API, charts are inline SVG, text is escaped."""

from __future__ import annotations

import re

import pytest

from contract.registry import Partner, Registry, Stream
from dashboard.report import markdown_html, report_html
from tests.dashboard.builders import T0, VIEWER_TOKEN, build, chunk

BEARER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}


@pytest.fixture
def client(app_and_data):
    app, _ = app_and_data
    return app.server.test_client()


def cells(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body)
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in rows]


def test_report_numbers_equal_the_summary_api(client):
    response = client.get("/api/v1/streams/carnival/report?lang=en", headers=BEARER)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    # The report covers the data's range: through its last change at T0+20.
    api = client.get(f"/api/v1/streams/carnival/summary?at={(T0 + 20) * 1000}", headers=BEARER).json
    total = api["total"]
    table = cells(html, "report-partners")
    assert table[0][:4] == ["Partner", "Peak", "Peak at", "Views"]
    by_name = {row[0]: row for row in table[1:]}
    assert by_name["Total"][1:4] == [str(total["peak_concurrent"]), "19:00:02", str(total["views"])]
    douyin = api["platforms"]["douyin"]
    assert by_name["Douyin"][1] == str(douyin["peak_concurrent"])
    assert by_name["Douyin"][3] == str(douyin["views"])
    assert by_name["Douyin"][4] == f"{douyin['views'] * 100 / total['views']:.1f}%"
    assert by_name["Douyin"][5] == str(douyin["uniques"])
    # at the total's peak (T0+2) douyin had 7 of 12
    assert by_name["Douyin"][6:8] == ["7", "58.3%"]
    cards = html.split('id="report-cards"', 1)[1]
    assert "2024-12-21 19:00:02" in cards
    assert html.count("<svg") == 2 and "<polyline" in html
    assert "@page { size: A4" in html
    assert "How livetally counts" in html  # the methodology


def test_report_in_chinese(client):
    html = client.get("/api/v1/streams/carnival/report?lang=zh", headers=BEARER).get_data(
        as_text=True
    )
    assert "赛后报告" in html and "统计口径" in html and "抖音" in html
    assert '<html lang="zh-CN">' in html
    assert client.get("/api/v1/streams/carnival/report?lang=de", headers=BEARER).status_code == 400


def test_report_escapes_user_text():
    reg = Registry.of(
        [
            Stream("evil", "<script>alert(1)</script>", "Asia/Shanghai"),
            Partner("p1", "<img src=x onerror=alert(2)>"),
        ]
    )
    snap = build([chunk("p1", 0, {T0: (1, 1, 1)}, stream="evil")], reg=reg)
    html = report_html(snap, "evil", "zh", T0 + 10)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_markdown_subset():
    html = markdown_html(
        "# Title\n\nSome **bold** and `code` <x>.\n\n- one\n  more\n- two\n\n```\nart\n```\n"
    )
    assert html == (
        "<h3>Title</h3><p>Some <strong>bold</strong> and <code>code</code> &lt;x&gt;.</p>"
        "<ul><li>one more<li>two</ul>"
    )


def test_report_tables_each_segment_and_names_the_segment_of_the_peak(sample_snapshot):
    from dataclasses import replace

    from contract.registry import Segment

    # The sample's total peaks (12) at T0+2; the concurrent steps are 3, 8, 12, 11, 9, 4.
    opening = Segment("opening", "carnival", T0, "开幕式", "Opening", end=T0 + 10)
    dance = Segment("dance", "carnival", T0 + 10, "街舞<b>", "Street <dance>")
    segments = {("carnival", s.id): s for s in (opening, dance)}
    snapshot = replace(
        sample_snapshot, registry=replace(sample_snapshot.registry, segments=segments)
    )
    html = report_html(snapshot, "carnival", "en", T0 + 60)
    cards = html.split('id="report-cards"', 1)[1].split("</div></div>", 1)[0]
    assert "Segment: Opening" in cards
    table = cells(html, "report-segments")
    assert table[0] == [
        "Segment",
        "Start",
        "End",
        "Peak",
        "Peak at",
        "Views gained",
        "Average concurrent",
    ]
    steps = snapshot.totals["carnival"]
    assert table[1][:5] == ["Opening", "19:00", "19:00", "12", "19:00:02"]
    gained = steps.at(T0 + 9).views - steps.at(T0 - 1).views
    assert table[1][5] == str(gained)
    mean = sum(steps.at(s).concurrent for s in range(T0, T0 + 10)) / 10
    assert table[1][6] == str(round(mean))
    # The last segment runs to the report's end (the data's last change, T0+20); the
    # title is escaped.
    assert table[2][0] == "Street &lt;dance&gt;"
    assert table[2][4] == "19:00:10"
    zh = report_html(snapshot, "carnival", "zh", T0 + 60)
    assert "节目: 开幕式" in zh and "街舞&lt;b&gt;" in zh and "节目单" in zh


def test_a_report_without_a_programme_has_no_segment_table(client):
    html = client.get("/api/v1/streams/carnival/report?lang=en", headers=BEARER).get_data(
        as_text=True
    )
    assert "report-segments" not in html and "Segment:" not in html


LONG = "街舞表演与合唱" * 6


def test_report_charts_shade_each_segment(sample_snapshot):
    from dataclasses import replace

    from contract.registry import Segment

    opening = Segment("opening", "carnival", T0, "开幕式", end=T0 + 10)
    dance = Segment("dance", "carnival", T0 + 10, LONG)
    segments = {("carnival", s.id): s for s in (opening, dance)}
    snapshot = replace(
        sample_snapshot, registry=replace(sample_snapshot.registry, segments=segments)
    )
    html = report_html(snapshot, "carnival", "zh", T0 + 60)
    assert html.count('class="lt-svg-band"') == 4  # two segments on each of two charts
    assert html.count(f"<title>{LONG}</title>") == 2  # whole, on hover
    assert "…" in html  # the long label is cut to its band
