"""The JSON API through Flask's test client, on a fixed snapshot."""

from __future__ import annotations

import pytest

from tests.dashboard.builders import T0, VIEWER_TOKEN, build, chunk

BEARER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}


@pytest.fixture
def client(app_and_data):
    app, _ = app_and_data
    return app.server.test_client()


def get(client, url):
    return client.get(url, headers=BEARER)


def test_streams_lists_registered_streams(client):
    assert get(client, "/api/v1/streams").json == {
        "streams": [{"id": "carnival", "title": "成都第八届社区邻里节", "tz": "Asia/Shanghai"}]
    }


def test_summary_at_a_moment(client):
    body = get(client, f"/api/v1/streams/carnival/summary?at={(T0 + 3) * 1000 + 999}").json
    assert body["stream"] == "carnival"
    assert body["as_of"] == "2024-12-21T19:00:03+08:00"
    assert body["total"] == {
        "concurrent": 12,
        "peak_concurrent": 12,
        "peak_at": "2024-12-21T19:00:02+08:00",
        "views": 12,
        "uniques": 11,
    }
    douyin = body["platforms"]["douyin"]
    assert (douyin["concurrent"], douyin["views"], douyin["name"], douyin["name_en"]) == (
        7,
        7,
        "抖音",
        "Douyin",
    )
    assert douyin["last_event_at"] == "2024-12-21T19:00:11+08:00"
    assert douyin["status"] == "offline"  # arrivals were in 2024
    assert body["platforms"]["quiet"]["concurrent"] == 0


def test_summary_accepts_rfc3339(client):
    body = get(client, "/api/v1/streams/carnival/summary?at=2024-12-21T11:00:10.5Z").json
    assert body["as_of"] == "2024-12-21T19:00:10+08:00"
    assert body["total"]["concurrent"] == 9


def test_summary_without_at_is_now(client):
    body = get(client, "/api/v1/streams/carnival/summary").json
    assert body["total"]["concurrent"] == 4
    assert body["total"]["views"] == 13
    assert body["as_of"] > "2025"


def test_unknown_stream_is_404_problem(client):
    response = get(client, "/api/v1/streams/nope/summary")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert "nope" in response.json["detail"]


@pytest.mark.parametrize(
    "at",
    [
        "soon",
        "2024-02-30T00:00:00Z",
        "12345678901234567890",
        "--5",
        "-",
        "5" * 5000,
        "1e999",
        "NaN",
        "%20",
        "0001-01-01T00:00:00+14:00",
        "９９",  # full-width digits
    ],
)
def test_bad_at_is_400_problem(client, at):
    response = get(client, f"/api/v1/streams/carnival/summary?at={at}")
    assert response.status_code == 400
    assert "'at'" in response.json["detail"]


def test_series_buckets(client):
    url = f"/api/v1/streams/carnival/series?resolution=10s&from={T0 * 1000}&to={(T0 + 25) * 1000}"
    body = get(client, url).json
    assert [b["start"] for b in body["buckets"]] == [
        "2024-12-21T19:00:00+08:00",
        "2024-12-21T19:00:10+08:00",
        "2024-12-21T19:00:20+08:00",
    ]
    assert [b["total"] for b in body["buckets"]] == [
        {"concurrent": 11, "peak_concurrent": 12, "views": 12, "uniques": 11, "new_views": 12},
        {"concurrent": 9, "peak_concurrent": 9, "views": 13, "uniques": 12, "new_views": 1},
        {"concurrent": 4, "peak_concurrent": 4, "views": 13, "uniques": 12, "new_views": 0},
    ]
    assert body["buckets"][2]["platforms"]["bili"]["concurrent"] == 0


def test_series_default_range_starts_at_first_data(client):
    body = get(client, f"/api/v1/streams/carnival/series?resolution=5m&to={(T0 + 900) * 1000}").json
    assert len(body["buckets"]) == 4
    assert body["from"] == "2024-12-21T19:00:00+08:00"
    assert body["buckets"][0]["start"] == "2024-12-21T19:00:00+08:00"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("resolution=2s", "resolution"),
        (f"resolution=1s&from={T0 * 1000}&to={(T0 + 86_400) * 1000}", "resolution"),
        (f"from={(T0 + 10) * 1000}&to={T0 * 1000}", "from"),
        ("to=later", "to"),
    ],
)
def test_bad_series_parameters_are_400(client, query, name):
    response = get(client, f"/api/v1/streams/carnival/series?{query}")
    assert response.status_code == 400
    assert f"'{name}'" in response.json["detail"]


def test_api_follows_a_new_snapshot(app_and_data):
    app, data = app_and_data
    data.set(build([chunk("douyin", 0, {T0: (42, 42, 42)})]))
    body = get(app.server.test_client(), f"/api/v1/streams/carnival/summary?at={T0 * 1000}").json
    assert body["total"]["concurrent"] == 42


def test_unknown_api_route_is_404_problem(client):
    assert get(client, "/api/v2/everything").status_code == 404


def test_series_cost_is_capped_over_the_total_and_every_partner(app_and_data):
    """Buckets x (partners + 1) is capped: the refusal names the largest range."""
    app, data = app_and_data
    from dashboard.api import MAX_BUCKETS, MAX_CELLS

    data.set(build([chunk(f"p{i:02}", 0, {T0: (1, 1, 1)}) for i in range(29)]))
    lines = 30  # the total and 29 partners
    fits = MAX_CELLS // lines
    assert fits < MAX_BUCKETS
    client = app.server.test_client()
    ok = get(
        client,
        f"/api/v1/streams/carnival/series?resolution=1s&from={T0 * 1000}"
        f"&to={(T0 + fits - 1) * 1000}",
    )
    assert ok.status_code == 200 and len(ok.json["buckets"]) == fits
    over = get(
        client,
        f"/api/v1/streams/carnival/series?resolution=1s&from={T0 * 1000}&to={(T0 + fits) * 1000}",
    )
    assert over.status_code == 400
    assert f"largest range is {fits:,} buckets" in over.json["detail"]


def test_alerts_lists_a_streams_alerts_newest_first(app_and_data):
    from contract.alerts import Alert
    from dashboard.monitor import MonitorState

    app, data = app_and_data
    state = MonitorState()
    for i, stream in enumerate(["carnival", "other", "carnival"]):
        alert = Alert(
            f"stale/{stream}/douyin/{i}",
            (T0 + i) * 1000,
            (T0 + i) * 1000,
            stream,
            "douyin",
            "stale",
            "warning",
            "中",
            "en",
            None,
        )
        state.put_alert(alert.to_json())
    data.set_monitor(state.build())
    client = app.server.test_client()
    body = get(client, "/api/v1/streams/carnival/alerts").json
    assert [a["id"] for a in body["alerts"]] == [
        "stale/carnival/douyin/2",
        "stale/carnival/douyin/0",
    ]
    assert set(body["alerts"][0]) == {
        "id",
        "at",
        "raised_at",
        "stream",
        "platform",
        "kind",
        "level",
        "message_zh",
        "message_en",
        "value",
    }
    assert [
        a["id"] for a in get(client, "/api/v1/streams/carnival/alerts?limit=1").json["alerts"]
    ] == ["stale/carnival/douyin/2"]
    for bad in ("0", "-1", "1001", "x", "1e3", ""):
        response = get(client, f"/api/v1/streams/carnival/alerts?limit={bad}")
        assert response.status_code == 400 and "'limit'" in response.json["detail"]
    assert get(client, "/api/v1/streams/nope/alerts").status_code == 404
