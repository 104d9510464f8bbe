"""Hostile input to every callback and API query string never yields a 5xx (in process)."""

from __future__ import annotations

import json
import random
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dashboard.builders import VIEWER_TOKEN, build, chunk, stats
from tests.dashboard.fuzz import API_PATHS, QUERY_NAMES, QUERY_VALUES, callback_requests

BEARER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}


@pytest.fixture(scope="module")
def client():
    from dashboard.app import create_app
    from dashboard.config import DashboardConfig
    from dashboard.data import StaticData

    now = int(time.time())
    snapshot = build(
        [
            chunk("douyin", 0, {now - 7200: (30, 30, 20), now - 5: (-3, 1, 1)}),
            chunk("bili", 1, {now - 3600: (5, 5, 5)}),
        ],
        stats=[stats("douyin", 0, arrival=now * 1000, event=now * 1000, events=9)],
    )
    app = create_app(
        DashboardConfig(secret_key="fuzz-session-key-0123456789"), data=StaticData(snapshot)
    )
    return app.server.test_client()


def test_every_callback_survives_hostile_values(client):
    dependencies = client.get("/_dash-dependencies", headers=BEARER).json
    served = {d["output"] for d in dependencies if not d.get("clientside_function")}
    assert len(served) >= 15  # every page's callbacks are registered and fuzzed
    failures = []
    statuses = set()
    rnd = random.Random(20241221)
    for output, body in callback_requests(dependencies, rnd, int(time.time()), 25):
        response = client.post(
            "/_dash-update-component",
            data=json.dumps(body),
            headers=BEARER,
            content_type="application/json",
        )
        statuses.add(response.status_code)
        if response.status_code >= 500:
            failures.append((output, response.status_code, json.dumps(body)[:300]))
    assert not failures, failures[:5]
    assert {200, 204} <= statuses  # hostile values were served, not all refused


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(API_PATHS),
    stream=st.sampled_from(["carnival", "nope", "%00", "x" * 300]),
    query=st.dictionaries(
        st.sampled_from(QUERY_NAMES),
        st.one_of(st.sampled_from(QUERY_VALUES), st.text(max_size=40)),
        max_size=5,
    ),
)
def test_no_query_string_yields_a_5xx(client, path, stream, query):
    text = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in query.items())
    response = client.get(f"/api/v1/streams/{stream}/{path}?{text}", headers=BEARER)
    assert response.status_code < 500, (path, query, response.get_data(as_text=True)[:300])
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
