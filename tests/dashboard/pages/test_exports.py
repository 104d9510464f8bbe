"""The exports page's callbacks: labels per language, and the export and report links it
builds for the chosen options, for the selected or fallback stream."""

from __future__ import annotations

import importlib
from urllib.parse import parse_qs, urlsplit

import pytest

from contract.registry import Registry
from tests.dashboard.builders import VIEWER_TOKEN, build
from tests.dashboard.conftest import ADMIN_TOKEN

ZH_LABELS = ["时间粒度", "格式", "语言", "开始", "结束"]
EN_LABELS = ["Resolution", "Format", "Language", "From", "To"]
BASE = "/api/v1/streams/carnival"


@pytest.fixture
def exports(pages):
    """The exports page module as the app loaded it, and the app's data."""
    _, _, data = pages
    return importlib.import_module("dashboard.pages.exports"), data


def query(url):
    parts = urlsplit(url)
    return parts.path, parse_qs(parts.query, keep_blank_values=True)


def test_refresh_exports_in_chinese_with_defaults(exports):
    page, _ = exports
    out = page.refresh_exports(None, "zh", None, None, None, None, None)
    assert len(out) == 15
    assert out[0] == "数据导出 · 成都第八届社区邻里节"
    assert list(out[1:6]) == ZH_LABELS
    assert out[6].startswith("时间可留空")
    assert out[7:] == (
        "下载 (csv)",
        f"{BASE}/export?format=csv&resolution=1m&lang=zh",
        "打开赛后报告",
        f"{BASE}/report?lang=zh",
        "报告 PDF",
        f"{BASE}/report.pdf?lang=zh",
        "报告 Word",
        f"{BASE}/report.docx?lang=zh",
    )


def test_refresh_exports_in_english_with_every_option(exports):
    page, _ = exports
    out = page.refresh_exports(
        "carnival", "en", "5m", "parquet", "en", "2024-12-21T19:00:00+08:00", "2024-12-21T12:00Z"
    )
    assert out[0] == "Exports · 成都第八届社区邻里节"
    assert list(out[1:6]) == EN_LABELS
    assert out[6].startswith("Leave times empty")
    assert out[7] == "Download (parquet)"
    path, args = query(out[8])
    assert path == f"{BASE}/export"
    assert args == {
        "format": ["parquet"],
        "resolution": ["5m"],
        "lang": ["en"],
        "from": ["2024-12-21T19:00:00+08:00"],  # the + survives: it is escaped
        "to": ["2024-12-21T12:00Z"],
    }
    assert "%2B08%3A00" in out[8]
    assert (out[9], out[10]) == ("Open the post-event report", f"{BASE}/report?lang=en")


def test_page_language_and_export_language_are_independent(exports):
    page, _ = exports
    out = page.refresh_exports("carnival", "en", "1h", "json", "zh", None, None)
    assert out[1] == "Resolution"  # the page in English
    assert query(out[8])[1]["lang"] == ["zh"]  # the file in Chinese
    assert out[10] == f"{BASE}/report?lang=zh"
    out = page.refresh_exports("carnival", "zh", "1h", "json", "en", None, None)
    assert out[1] == "时间粒度" and query(out[8])[1]["lang"] == ["en"]


@pytest.mark.parametrize("lang_value", [None, "fr", 5, ["en"], "EN"])
def test_any_language_but_en_is_chinese(exports, lang_value):
    page, _ = exports
    out = page.refresh_exports("carnival", lang_value, None, None, lang_value, None, None)
    assert out[1] == "时间粒度"
    assert query(out[8])[1]["lang"] == ["zh"] and out[10].endswith("?lang=zh")


@pytest.mark.parametrize(("start", "end"), [("", ""), ("   ", "\t"), (None, None)])
def test_empty_times_are_left_out_of_the_link(exports, start, end):
    page, _ = exports
    out = page.refresh_exports("carnival", "en", "10s", "xlsx", "en", start, end)
    assert out[8] == f"{BASE}/export?format=xlsx&resolution=10s&lang=en"


def test_times_are_trimmed_and_escaped(exports):
    page, _ = exports
    out = page.refresh_exports("carnival", "en", None, None, "en", "  2024-12-21 19:00 ", "a&to=b")
    args = query(out[8])[1]
    assert args["from"] == ["2024-12-21 19:00"]
    assert args["to"] == ["a&to=b"]  # one value, not a second parameter


def test_an_unknown_stream_falls_back_to_the_registered_one(exports):
    page, _ = exports
    out = page.refresh_exports("nope", "en", None, None, "en", None, None)
    assert out[0] == "Exports · 成都第八届社区邻里节"
    assert out[8].startswith(f"{BASE}/export?") and out[10].startswith(f"{BASE}/report?")


def test_without_any_stream_there_is_no_link(exports):
    page, data = exports
    data.set(build([], reg=Registry()))
    out = page.refresh_exports("carnival", "en", "1m", "csv", "en", "2024-12-21", None)
    assert out[0] == "Exports"
    assert list(out[1:6]) == EN_LABELS
    assert (out[7], out[8], out[9], out[10]) == (
        "Download (csv)",
        "",
        "Open the post-event report",
        "",
    )


@pytest.mark.parametrize(
    ("stream_id", "quoted"),
    [("a b", "a%20b"), ("a/b", "a%2Fb"), ("节", "%E8%8A%82"), ("x?y#z", "x%3Fy%23z")],
)
def test_export_links_quote_the_stream_id_as_one_path_segment(stream_id, quoted):
    from dashboard.pages.exports import export_links

    download, report = export_links(stream_id, "1m", "csv", "zh", None, None)
    assert download == f"/api/v1/streams/{quoted}/export?format=csv&resolution=1m&lang=zh"
    assert report == f"/api/v1/streams/{quoted}/report?lang=zh"


def test_export_links_default_the_format_and_resolution():
    from dashboard.pages.exports import export_links

    assert export_links("carnival", None, None, None, None, None) == (
        f"{BASE}/export?format=csv&resolution=1m&lang=zh",
        f"{BASE}/report?lang=zh",
    )
    assert export_links(None, "5m", "json", "en", "x", "y") == ("", "")


def update_body(inputs):
    """The request Dash's renderer sends for the exports callback, with ``inputs`` values."""
    fields = ("resolution", "format", "language", "from", "to")
    outputs = [("exports-title", "children")]
    outputs += [(f"exports-label-{name}", "children") for name in fields]
    outputs += [
        ("exports-hint", "children"),
        ("exports-download", "children"),
        ("exports-download", "href"),
        ("exports-report", "children"),
        ("exports-report", "href"),
        ("exports-report-pdf", "children"),
        ("exports-report-pdf", "href"),
        ("exports-report-docx", "children"),
        ("exports-report-docx", "href"),
    ]
    ids = [
        ("app-stream", "data"),
        ("app-lang", "data"),
        ("exports-resolution", "value"),
        ("exports-format", "value"),
        ("exports-lang", "value"),
        ("exports-from", "value"),
        ("exports-to", "value"),
    ]
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [
            {"id": i, "property": p, "value": v} for (i, p), v in zip(ids, inputs, strict=True)
        ],
        "changedPropIds": ["app-lang.data"],
        "state": [],
    }


def test_the_registered_callback_narrows_what_the_browser_sends(app_and_data):
    app, _ = app_and_data
    client = app.server.test_client()
    bearer = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    assert client.get("/exports", headers=bearer).status_code == 200  # registers callbacks
    hostile = [["carnival"], "en", "2m", "pdf", 5, {"a": 1}, "x" * 2001]
    response = client.post("/_dash-update-component", json=update_body(hostile), headers=bearer)
    assert response.status_code == 200
    answer = response.json["response"]
    assert answer["exports-title"]["children"] == "Exports · 成都第八届社区邻里节"
    assert answer["exports-download"]["children"] == "Download (csv)"
    assert answer["exports-download"]["href"] == f"{BASE}/export?format=csv&resolution=1m&lang=zh"
    good = [None, "zh", "1s", "json", "en", "2024-12-21T19:00:00+08:00", None]
    response = client.post("/_dash-update-component", json=update_body(good), headers=bearer)
    href = response.json["response"]["exports-download"]["href"]
    assert query(href)[1]["from"] == ["2024-12-21T19:00:00+08:00"]
    assert response.json["response"]["exports-label-from"]["children"] == "开始"


@pytest.mark.parametrize("token", [VIEWER_TOKEN, ADMIN_TOKEN])
def test_viewer_and_admin_tokens_both_get_the_page_and_the_file_its_link_names(setup, token):
    app, _ = setup
    client = app.server.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/exports", headers=bearer).status_code == 200
    page = importlib.import_module("dashboard.pages.exports")
    with app.server.app_context():
        out = page.refresh_exports("carnival", "en", "1m", "csv", "en", None, None)
    response = client.get(out[8], headers=bearer)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="' in response.headers["Content-Disposition"]
    assert client.get(out[10], headers=bearer).mimetype == "text/html"


def test_without_a_token_the_link_is_refused(app_and_data):
    app, _ = app_and_data
    page = importlib.import_module("dashboard.pages.exports")
    with app.server.app_context():
        out = page.refresh_exports("carnival", "en", "1m", "csv", "en", None, None)
    response = app.server.test_client().get(out[8])
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
