"""Admin routes: admin tokens only, keys shown once, same-origin posts."""

from __future__ import annotations

import time

import pytest

from contract.registry import hash_secret
from dashboard.auth import same_origin
from tests.dashboard.builders import VIEWER_TOKEN
from tests.dashboard.conftest import ADMIN_TOKEN

VIEWER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def client(setup):
    return setup[0].server.test_client()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin"),
        ("get", "/api/v1/admin/partners"),
        ("post", "/api/v1/admin/partners"),
        ("post", "/api/v1/admin/partners/douyin/revoke"),
        ("post", "/api/v1/admin/partners/douyin/rotate-key"),
        ("patch", "/api/v1/admin/partners/douyin"),
        ("get", "/api/v1/admin/tokens"),
        ("post", "/api/v1/admin/tokens"),
        ("post", "/api/v1/admin/tokens/t1/revoke"),
    ],
)
def test_a_viewer_token_cannot_reach_admin_routes(client, setup, method, path):
    _, store = setup
    before = len(store.items)
    response = getattr(client, method)(path, headers=VIEWER, json={"id": "x", "name": "X"})
    assert response.status_code == 403
    assert response.json["title"] == "Forbidden"
    assert len(store.items) == before  # nothing was written
    assert getattr(client, method)(path).status_code == 401  # and no token at all: 401


def test_admin_adds_a_partner_and_sees_its_key_exactly_once(client, setup):
    _, store = setup
    response = client.post(
        "/api/v1/admin/partners",
        headers=ADMIN,
        json={"id": "scnews", "name": "四川新闻网", "name_en": "Sichuan News", "rate": 100},
    )
    assert response.status_code == 201, response.json
    body = response.json
    key = body["key"]
    assert key.startswith("ltk_") and response.headers["Cache-Control"] == "no-store"
    assert body["partner"] == {
        "id": "scnews",
        "name": "四川新闻网",
        "name_en": "Sichuan News",
        "mode": "sessions",
        "session_timeout_s": 30,
        "rate": 100,
        "revoked": False,
        "previous_key_expires_at": None,
        "streams": [],
    }
    written = store.items[-1]
    assert written.key_hash == hash_secret(key)
    assert store.registry().partner_for_key(key).id == "scnews"
    listing = client.get("/api/v1/admin/partners", headers=ADMIN)
    assert "scnews" in [p["id"] for p in listing.json["partners"]]
    assert key not in listing.get_data(as_text=True)
    assert written.key_hash not in listing.get_data(as_text=True)
    assert key not in client.get("/admin", headers=ADMIN).get_data(as_text=True)
    # Adding it again while active is refused; nothing new is written.
    again = client.post("/api/v1/admin/partners", headers=ADMIN, json={"id": "scnews", "name": "x"})
    assert again.status_code == 409


def test_admin_revokes_a_partner_and_tokens(client, setup):
    _, store = setup
    assert client.post("/api/v1/admin/partners/douyin/revoke", headers=ADMIN).status_code == 200
    assert store.registry().partners["douyin"].revoked
    assert client.post("/api/v1/admin/partners/nope/revoke", headers=ADMIN).status_code == 404
    created = client.post("/api/v1/admin/tokens", headers=ADMIN, json={"role": "viewer"})
    assert created.status_code == 201
    secret, token_id = created.json["secret"], created.json["token"]["id"]
    assert (
        client.get("/api/v1/streams", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 200
    )
    tokens = client.get("/api/v1/admin/tokens", headers=ADMIN).get_data(as_text=True)
    assert token_id in tokens and secret not in tokens and hash_secret(secret) not in tokens
    revoke = client.post(f"/api/v1/admin/tokens/{token_id}/revoke", headers=ADMIN)
    assert revoke.json["token"]["revoked"] is True
    assert (
        client.get("/api/v1/streams", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"id": "Bad Id", "name": "x"}, "partner"),
        ({"id": "ok", "name": ""}, "name"),
        ({"id": "ok", "name": "x", "session_timeout_s": "soon"}, "session_timeout_s"),
        ({"id": "ok", "name": "x", "mode": "other"}, "partner"),
        ({"id": 5, "name": "x"}, "id"),
        ([1, 2], "body"),
        ({"id": "ok", "name": "x", "rate": 1.5}, "rate"),
        ({"id": "ok", "name": "x", "rate": True}, "rate"),
        ({"id": "ok", "name": "x", "rate": "5" * 5000}, "rate"),
        ({"id": "ok", "name": "x", "rate": -3}, "rate"),
        ({"id": "ok", "name": "x", "rate": 10**30}, "rate"),
        ({"id": "ok", "name": "x", "rate": [5000]}, "rate"),
        ({"id": "ok", "name": "x", "session_timeout_s": "--5"}, "session_timeout_s"),
        ({"id": "ok", "name": "x", "session_timeout_s": "NaN"}, "session_timeout_s"),
        ({"id": "ok", "name": "x" * 5000}, "name"),
        ({"id": "ok", "name": {"zh": "x"}}, "name"),
    ],
)
def test_bad_partner_input_is_a_400_problem(client, setup, body, name):
    response = client.post("/api/v1/admin/partners", headers=ADMIN, json=body)
    assert response.status_code == 400
    assert f"'{name}'" in response.json["detail"]
    bad_role = client.post("/api/v1/admin/tokens", headers=ADMIN, json={"role": "root"})
    assert bad_role.status_code == 400


def test_cookie_posts_must_come_from_the_dashboards_origin(client):
    assert client.get(f"/admin?token={ADMIN_TOKEN}").status_code == 303  # signs in
    body = {"id": "site", "name": "Site"}
    foreign = client.post(
        "/api/v1/admin/partners", json=body, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and "cross-site" in foreign.json["detail"]
    assert client.post("/api/v1/admin/partners", json=body).status_code == 403  # no Origin
    own = client.post("/api/v1/admin/partners", json=body, headers={"Origin": "http://localhost"})
    assert own.status_code == 201
    assert client.get("/admin").status_code == 200  # reading needs no Origin


def test_same_origin_rules():
    assert same_origin("http://h:8050", None, "h:8050")
    assert same_origin(None, "http://h:8050/admin", "h:8050")
    assert not same_origin("null", None, "h:8050")
    assert not same_origin("http://h:9999", None, "h:8050")
    assert not same_origin(None, None, "h:8050")


@pytest.mark.parametrize(
    "raw",
    [b"[" * 100_000 + b"]" * 100_000, b'{"id": "ok", "name": "x", "rate": 1e999}', b"\xff\xfe"],
)
def test_undecodable_admin_bodies_are_400_problems(client, raw):
    response = client.post(
        "/api/v1/admin/partners",
        headers={**ADMIN, "Content-Type": "application/json"},
        data=raw,
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_a_rate_written_with_digits_is_accepted(client, setup):
    body = {"id": "digits", "name": "x", "rate": " 2500 ", "session_timeout_s": 45}
    response = client.post("/api/v1/admin/partners", headers=ADMIN, json=body)
    assert response.status_code == 201
    assert (response.json["partner"]["rate"], response.json["partner"]["session_timeout_s"]) == (
        2500,
        45,
    )


def test_adding_a_registered_partner_again_keeps_its_key_unless_replace(client, setup):
    _, store = setup
    first = client.post("/api/v1/admin/partners", headers=ADMIN, json={"id": "p1", "name": "一"})
    key = first.json["key"]
    written = len(store.items)
    again = client.post("/api/v1/admin/partners", headers=ADMIN, json={"id": "p1", "name": "二"})
    assert again.status_code == 409 and "already registered" in again.json["detail"]
    assert len(store.items) == written
    assert store.registry().partner_for_key(key).name == "一"
    body = {"id": "p1", "name": "二", "replace": True}
    replaced = client.post("/api/v1/admin/partners", headers=ADMIN, json=body)
    assert replaced.status_code == 201
    assert store.registry().partner_for_key(key) is None
    assert store.registry().partner_for_key(replaced.json["key"]).name == "二"
    bad = client.post("/api/v1/admin/partners", headers=ADMIN, json={**body, "replace": "yes"})
    assert bad.status_code == 400 and "'replace'" in bad.json["detail"]


def test_rotating_a_key_keeps_the_old_one_for_the_grace_period(client, setup):
    _, store = setup
    key = client.post(
        "/api/v1/admin/partners", headers=ADMIN, json={"id": "p2", "name": "二"}
    ).json["key"]
    before = int(time.time() * 1000)
    rotated = client.post("/api/v1/admin/partners/p2/rotate-key", headers=ADMIN)
    assert rotated.status_code == 200 and rotated.headers["Cache-Control"] == "no-store"
    new_key = rotated.json["key"]
    until = rotated.json["partner"]["previous_key_expires_at"]
    assert until - before == pytest.approx(600_000, abs=60_000)
    registry = store.registry()
    assert registry.partner_for_key(key, until - 1).id == "p2"
    assert registry.partner_for_key(key, until) is None
    assert registry.partner_for_key(new_key, until).id == "p2"
    assert key not in rotated.get_data(as_text=True)
    assert hash_secret(new_key) not in rotated.get_data(as_text=True)
    now = client.post("/api/v1/admin/partners/p2/rotate-key", headers=ADMIN, json={"grace_s": 0})
    assert now.json["partner"]["previous_key_expires_at"] is None
    assert store.registry().partner_for_key(new_key) is None
    missing = client.post("/api/v1/admin/partners/nope/rotate-key", headers=ADMIN)
    assert missing.status_code == 404
    too_long = client.post(
        "/api/v1/admin/partners/p2/rotate-key", headers=ADMIN, json={"grace_s": 10**8}
    )
    assert too_long.status_code == 400
    client.post("/api/v1/admin/partners/p2/revoke", headers=ADMIN)
    revoked = client.post("/api/v1/admin/partners/p2/rotate-key", headers=ADMIN)
    assert revoked.status_code == 409 and "revoked" in revoked.json["detail"]


def test_updating_a_partner_keeps_its_key(client, setup):
    _, store = setup
    key = client.post(
        "/api/v1/admin/partners", headers=ADMIN, json={"id": "p3", "name": "三"}
    ).json["key"]
    updated = client.patch("/api/v1/admin/partners/p3", headers=ADMIN, json={"rate": "70"})
    assert updated.status_code == 200, updated.json
    assert (updated.json["partner"]["rate"], updated.json["partner"]["name"]) == (70, "三")
    assert store.registry().partner_for_key(key).rate == 70
    assert client.patch("/api/v1/admin/partners/p3", headers=ADMIN, json={}).status_code == 400
    assert (
        client.patch("/api/v1/admin/partners/nope", headers=ADMIN, json={"rate": 1}).status_code
        == 404
    )


# --- programme segments -------------------------------------------------------------------

SEGMENTS = "/api/v1/admin/streams/carnival/segments"


def test_admin_adds_lists_and_removes_segments(client, setup):
    _, store = setup
    opening = client.post(
        SEGMENTS,
        headers=ADMIN,
        json={
            "id": "opening",
            "start": "2024-12-21T19:00",
            "title": "开幕式",
            "title_en": "Opening",
        },
    )
    assert opening.status_code == 201, opening.json
    assert opening.json["segment"] == {
        "id": "opening",
        "title": "开幕式",
        "title_en": "Opening",
        "start": "2024-12-21T19:00:00+08:00",
        "end": None,
        "end_given": False,
    }
    dance = client.post(SEGMENTS, headers=ADMIN, json={"start": 1734780600000, "title": "街舞"})
    assert dance.status_code == 201
    listed = client.get("/api/v1/streams/carnival/segments", headers=VIEWER).json
    assert [(s["title"], s["start"], s["end"]) for s in listed["segments"]] == [
        ("开幕式", "2024-12-21T19:00:00+08:00", "2024-12-21T19:30:00+08:00"),
        ("街舞", "2024-12-21T19:30:00+08:00", None),
    ]
    gone = client.delete(f"{SEGMENTS}/opening", headers=ADMIN)
    assert gone.status_code == 204
    assert store.items[-1] == "segment/carnival/opening"
    listed = client.get("/api/v1/streams/carnival/segments", headers=VIEWER).json
    assert [s["title"] for s in listed["segments"]] == ["街舞"]
    assert client.delete(f"{SEGMENTS}/opening", headers=ADMIN).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        ({"title": "x"}, 400, "start"),
        ({"start": "7pm", "title": "x"}, 400, "start"),
        ({"start": "2024-12-21T19:00", "title": ""}, 400, "title"),
        ({"start": "2024-12-21T19:00", "title": ["x"]}, 400, "title"),
        ({"start": "2024-12-21T19:00", "title": "x", "end": "2024-12-21T18:00"}, 400, "end after"),
        ({"start": True, "title": "x"}, 400, "start"),
        ({"start": "2024-12-21T19:00", "title": "x", "id": 7}, 400, "id"),
        ({"start": "2024-12-21T19:00", "title": "x", "replace": "yes"}, 400, "replace"),
    ],
)
def test_bad_segment_input_is_a_400_problem_naming_the_field(client, setup, body, status, names):
    _, store = setup
    before = len(store.items)
    response = client.post(SEGMENTS, headers=ADMIN, json=body)
    assert response.status_code == status, response.json
    assert names in response.json["detail"]
    assert len(store.items) == before


def test_segments_of_an_unknown_stream_are_404(client):
    assert client.get("/api/v1/streams/nope/segments", headers=VIEWER).status_code == 404
    response = client.post(
        "/api/v1/admin/streams/nope/segments",
        headers=ADMIN,
        json={"start": "2024-12-21T19:00", "title": "x"},
    )
    assert response.status_code == 404


def test_an_overlapping_segment_is_a_409(client):
    first = {"start": "2024-12-21T19:00", "end": "2024-12-21T19:40", "title": "开幕式"}
    assert client.post(SEGMENTS, headers=ADMIN, json=first).status_code == 201
    overlap = client.post(
        SEGMENTS, headers=ADMIN, json={"start": "2024-12-21T19:30", "title": "街舞"}
    )
    assert overlap.status_code == 409 and "overlap" in overlap.json["detail"]


def test_a_viewer_cannot_change_the_programme(client, setup):
    _, store = setup
    before = len(store.items)
    body = {"start": "2024-12-21T19:00", "title": "x"}
    assert client.post(SEGMENTS, headers=VIEWER, json=body).status_code == 403
    assert client.delete(f"{SEGMENTS}/x", headers=VIEWER).status_code == 403
    assert len(store.items) == before


def test_the_summary_names_the_segment_on_at_its_second(client):
    body = {"id": "opening", "start": "2024-12-21T19:00", "title": "开幕式"}
    assert client.post(SEGMENTS, headers=ADMIN, json=body).status_code == 201
    at = client.get(
        "/api/v1/streams/carnival/summary?at=2024-12-21T19:10:00%2B08:00", headers=VIEWER
    ).json
    assert at["segment"]["id"] == "opening" and at["segment"]["title"] == "开幕式"
    before = client.get(
        "/api/v1/streams/carnival/summary?at=2024-12-21T18:59:59%2B08:00", headers=VIEWER
    ).json
    assert before["segment"] is None


def test_admin_creates_a_public_token_for_one_stream_which_the_dashboard_refuses(client, setup):
    _, store = setup
    made = client.post(
        "/api/v1/admin/tokens",
        headers=ADMIN,
        json={"role": "public", "stream": "carnival", "name": "四川新闻网"},
    )
    assert made.status_code == 201, made.json
    assert made.json["token"]["streams"] == ["carnival"]
    public = {"Authorization": f"Bearer {made.json['secret']}"}
    for path in ("/api/v1/streams", "/api/v1/streams/carnival/summary", "/", "/screen"):
        refused = client.get(path, headers=public)
        assert refused.status_code == 403, path
        assert "public live counter" in refused.json["detail"]
    link = client.get(f"/?token={made.json['secret']}")
    assert link.status_code == 403 and "Set-Cookie" not in link.headers  # no session either
    for body, names in (
        ({"role": "public"}, "required for a public token"),
        ({"role": "admin", "stream": "carnival"}, "cannot be limited"),
        ({"role": "viewer", "partner": "p1"}, "only for a partner token"),
        ({"role": "partner"}, "required for a partner token"),
        ({"role": "partner", "partner": "nobody"}, "no partner"),
        ({"role": "viewer", "streams": "carnival"}, "must be a list"),
        ({"role": "viewer", "stream": "carnival", "streams": ["carnival"]}, "not both"),
        ({"role": "public", "stream": "nope"}, "no stream"),
        ({"role": "public", "stream": ["carnival"]}, "must be a stream id"),
    ):
        response = client.post("/api/v1/admin/tokens", headers=ADMIN, json=body)
        assert response.status_code in (400, 404) and names in response.json["detail"], body


def test_admin_makes_limited_tokens_and_refuses_empty_limits(client, setup):
    _, store = setup
    made = client.post(
        "/api/v1/admin/tokens",
        headers=ADMIN,
        json={"role": "partner", "partner": "douyin", "streams": ["carnival", "carnival"]},
    )
    assert made.status_code == 201, made.json
    assert made.json["token"]["partner"] == "douyin"
    assert made.json["token"]["streams"] == ["carnival"]
    listed = client.get("/api/v1/admin/tokens", headers=ADMIN).json["tokens"]
    assert {t["id"]: t["partner"] for t in listed}[made.json["token"]["id"]] == "douyin"
    before = len(store.items)
    # A value that is present but empty or of the wrong kind is refused, never read as
    # "no limit" (which would make an unlimited token).
    for body, names in (
        ({"role": "viewer", "streams": []}, "at least one stream"),
        ({"role": "viewer", "streams": {}}, "must be a list"),
        ({"role": "viewer", "streams": [""]}, "must be a list"),
        ({"role": "viewer", "stream": ""}, "must be a stream id"),
        ({"role": "viewer", "stream": 0}, "must be a stream id"),
        ({"role": "viewer", "stream": False}, "must be a stream id"),
        ({"role": "partner", "partner": 0}, "must be a partner id"),
        ({"role": "partner", "partner": ""}, "required for a partner token"),
        ({"role": "viewer", "partner": False}, "must be a partner id"),
        ({"role": "viewer", "stream_ids": ["carnival"]}, "'stream_ids' is not a token field"),
    ):
        response = client.post("/api/v1/admin/tokens", headers=ADMIN, json=body)
        assert response.status_code == 400, (body, response.json)
        assert names in response.json["detail"], (body, response.json)
    assert len(store.items) == before
    revoked = client.post("/api/v1/admin/partners/bili/revoke", headers=ADMIN)
    assert revoked.status_code == 200
    refused = client.post(
        "/api/v1/admin/tokens", headers=ADMIN, json={"role": "partner", "partner": "bili"}
    )
    assert refused.status_code == 409 and "revoked" in refused.json["detail"]


def test_admin_limits_a_partner_to_streams(client, setup):
    _, store = setup
    made = client.post(
        "/api/v1/admin/partners",
        headers=ADMIN,
        json={"id": "p7", "name": "平台七", "streams": ["carnival"]},
    )
    assert made.status_code == 201 and made.json["partner"]["streams"] == ["carnival"]
    lifted = client.patch("/api/v1/admin/partners/p7", headers=ADMIN, json={"streams": []})
    assert lifted.status_code == 200 and lifted.json["partner"]["streams"] == []
    for streams, status in ((["nope"], 404), ("carnival", 400), ([1], 400)):
        response = client.patch(
            "/api/v1/admin/partners/p7", headers=ADMIN, json={"streams": streams}
        )
        assert response.status_code == status, (streams, response.json)
    assert store.registry().partners["p7"].streams == ()
