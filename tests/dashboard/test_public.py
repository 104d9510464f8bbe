"""The public live counter and the embed widget: public tokens only, one stream, cache
headers, ETag and 304, CORS; and the real server thread the dashboard runs it on."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import httpx
import pytest
from starlette.testclient import TestClient

from contract.registry import Token, hash_secret
from dashboard.data import StaticData
from dashboard.public import LIVE_PATH, public_app, serve_public
from tests.dashboard.builders import T0, VIEWER_TOKEN
from tests.ports import free_port

PUBLIC = "ltt_public_for_carnival"
NOW = T0 + 30  # the sample data's numbers are final from T0+20


@pytest.fixture
def data(sample_snapshot):
    tokens = {
        **sample_snapshot.registry.tokens,
        "pub": Token(
            "pub", "public", "news", public_hash=hash_secret(PUBLIC), streams=("carnival",)
        ),
    }
    return StaticData(
        replace(sample_snapshot, registry=replace(sample_snapshot.registry, tokens=tokens))
    )


@pytest.fixture
def client(data):
    return TestClient(public_app(data, clock=lambda: NOW))


def test_the_counter_gives_the_streams_numbers_with_cache_and_cors_headers(client, data):
    response = client.get(f"{LIVE_PATH}?token={PUBLIC}")
    assert response.status_code == 200
    body = response.json()
    totals = data.snapshot().totals["carnival"].at(NOW)
    assert body == {
        "stream": "carnival",
        "title": "成都第八届社区邻里节",
        "concurrent": totals.concurrent,
        "views": totals.views,
        "uniques": totals.uniques,
        "peak_concurrent": 12,
        "as_of": "2024-12-21T19:00:30+08:00",
        "lang": "zh",
        "display": {
            "concurrent": str(totals.concurrent),
            "views": str(totals.views),
            "uniques": str(totals.uniques),
            "peak_concurrent": "12",
        },
    }
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=1"
    etag = response.headers["etag"]
    again = client.get(f"{LIVE_PATH}?token={PUBLIC}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["access-control-allow-origin"] == "*"
    stale = client.get(f"{LIVE_PATH}?token={PUBLIC}", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200
    listed = client.get(f"{LIVE_PATH}?token={PUBLIC}", headers={"If-None-Match": f'"a", {etag}'})
    assert listed.status_code == 304
    anything = client.get(f"{LIVE_PATH}?token={PUBLIC}", headers={"If-None-Match": "*"})
    assert anything.status_code == 304
    english = client.get(f"{LIVE_PATH}?token={PUBLIC}&lang=en")
    assert english.json()["lang"] == "en" and english.headers["etag"] != etag


def test_the_etag_changes_with_the_second(data):
    clock = [NOW]
    client = TestClient(public_app(data, clock=lambda: clock[0]))
    first = client.get(f"{LIVE_PATH}?token={PUBLIC}").headers["etag"]
    clock[0] += 1
    second = client.get(f"{LIVE_PATH}?token={PUBLIC}")
    assert second.headers["etag"] != first
    assert second.json()["as_of"] == "2024-12-21T19:00:31+08:00"


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("", 401, "give the public token"),
        ("?token=ltt_nope", 401, "not valid"),
        (f"?token={VIEWER_TOKEN}", 401, "only public tokens"),
        (f"?token={PUBLIC}&stream=other", 403, "another stream"),
        (f"?token={PUBLIC}&lang=fr", 400, "zh or en"),
        ("?token=" + "x" * 500, 401, "not valid"),
    ],
)
def test_other_tokens_streams_and_parameters_are_refused(client, query, status, says):
    response = client.get(f"{LIVE_PATH}{query}")
    assert response.status_code == status
    assert says in response.json()["detail"]
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "no-store"


def test_a_revoked_public_token_stops_working(data, sample_snapshot):
    registry = data.snapshot().registry
    revoked = replace(registry.tokens["pub"], revoked=True)
    snapshot = replace(
        data.snapshot(), registry=replace(registry, tokens={**registry.tokens, "pub": revoked})
    )
    client = TestClient(public_app(StaticData(snapshot), clock=lambda: NOW))
    assert client.get(f"{LIVE_PATH}?token={PUBLIC}").status_code == 401


def test_the_embed_is_a_small_self_contained_page(client):
    response = client.get(f"/embed?token={PUBLIC}&lang=en&theme=dark")
    assert response.status_code == 200
    page = response.text
    assert len(response.content) < 4096
    assert 'class="lt dark"' in page and "watching now" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # nothing loaded from elsewhere
    policy = response.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert f'<script nonce="{nonce}">' in page and "frame-ancestors *" in policy
    assert "x-frame-options" not in response.headers  # news sites frame it
    assert f"/api/v1/public/live?token={PUBLIC}&amp;lang=en" in page
    zh = client.get(f"/embed?token={PUBLIC}").text
    assert "人正在观看" in zh and 'class="lt"' in zh
    assert client.get(f"/embed?token={VIEWER_TOKEN}").status_code == 401


def test_the_dashboard_runs_the_counter_on_its_own_port(data):
    port = free_port()
    serve_public("127.0.0.1", port, data)
    deadline = time.monotonic() + 10
    while True:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}{LIVE_PATH}?token={PUBLIC}")
            break
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert response.status_code == 200 and response.json()["stream"] == "carnival"
    assert "server" not in response.headers
    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}.*LIVETALLY_PUBLIC_PORT"):
        serve_public("127.0.0.1", port, data)  # taken: the dashboard stops, saying why
