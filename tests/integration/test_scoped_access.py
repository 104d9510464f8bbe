"""Scoped access over real processes and a real broker: a partner limited to one stream,
a viewer token limited to a stream, and a partner token that reads only its own numbers."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import Stack

pytestmark = pytest.mark.integration

FIRST, SECOND = "scope-first", "scope-second"


def _last_line(out: str) -> str:
    return out.strip().splitlines()[-1]


def _join(stream: str, session: str, ts: int) -> dict[str, object]:
    return {"type": "join", "stream": stream, "ts": ts, "session_id": session, "viewer_id": session}


def _get(stack: Stack, path: str, token: str) -> httpx.Response:
    return httpx.get(
        f"{stack.dashboard_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _until(check, timeout_s: float = 30.0):
    """``check()``'s first truthy value, retried while services catch up."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def test_limited_partners_and_tokens_see_and_send_only_their_part(stack: Stack):
    for stream in (FIRST, SECOND):
        stack.cli("stream", "add", stream, "--title", stream, "--replace")
    limited = _last_line(
        stack.cli(
            "partner", "add", "scope-kd", "--name", "看度", "--streams", FIRST, "--replace"
        ).stdout
    )
    anywhere = _last_line(
        stack.cli("partner", "add", "scope-hx", "--name", "华夏网", "--replace").stdout
    )
    full = _last_line(stack.cli("token", "create", "--role", "viewer").stdout)
    first_only = _last_line(
        stack.cli("token", "create", "--role", "viewer", "--stream", FIRST).stdout
    )
    own = _last_line(
        stack.cli("token", "create", "--role", "partner", "--partner", "scope-kd").stdout
    )
    now = int(time.time() * 1000)

    def post(key: str, events: list[dict[str, object]]) -> httpx.Response:
        return httpx.post(
            f"{stack.ingest_url}/v1/events",
            json={"events": events},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )

    # Ingest follows the registry within seconds: until then the new keys are unknown.
    sent = _until(
        lambda: (r := post(limited, [_join(FIRST, "kd-1", now)])).status_code == 202 and r
    )
    assert sent, "the limited partner's key never worked"
    mixed = post(limited, [_join(FIRST, "kd-2", now), _join(SECOND, "kd-3", now)])
    assert mixed.status_code == 207
    assert [(r["index"], r["code"]) for r in mixed.json()["rejected"]] == [
        (1, "stream_not_allowed")
    ]
    hx = [_join(s, f"hx-{s}-{i}", now) for s in (FIRST, SECOND) for i in range(3)]
    assert _until(lambda: post(anywhere, hx).status_code == 202)

    def first_counted() -> dict | None:
        r = _get(stack, f"/api/v1/streams/{FIRST}/summary", full)
        body = r.json() if r.status_code == 200 else {}
        return body if body.get("total", {}).get("views") == 5 else None

    everything = _until(first_counted)
    assert everything, "the first stream's numbers never reached the dashboard"
    assert everything["platforms"]["scope-kd"]["views"] == 2
    assert everything["platforms"]["scope-hx"]["views"] == 3
    # The second stream lists only the partner that may post to it and sent there.
    second = _get(stack, f"/api/v1/streams/{SECOND}/summary", full).json()
    assert "scope-kd" not in second["platforms"] and second["total"]["views"] == 3

    # A viewer token limited to the first stream: that stream, nothing of the second.
    assert _until(lambda: _get(stack, "/api/v1/streams", first_only).status_code == 200)
    listed = _get(stack, "/api/v1/streams", first_only).json()["streams"]
    assert [s["id"] for s in listed] == [FIRST]
    seen = _get(stack, f"/api/v1/streams/{FIRST}/summary", first_only).json()
    assert (seen["total"]["views"], set(seen["platforms"])) == (5, set(everything["platforms"]))
    refused = _get(stack, f"/api/v1/streams/{SECOND}/summary", first_only)
    assert refused.status_code == 403 and SECOND in refused.json()["detail"]

    # The partner token: its own numbers are the whole of what it reads.
    assert _until(lambda: _get(stack, "/api/v1/streams", own).status_code == 200)
    assert [s["id"] for s in _get(stack, "/api/v1/streams", own).json()["streams"]] == [FIRST]
    mine = _get(stack, f"/api/v1/streams/{FIRST}/summary", own).json()
    assert list(mine["platforms"]) == ["scope-kd"]
    assert mine["total"]["views"] == mine["platforms"]["scope-kd"]["views"] == 2
    csv = _get(stack, f"/api/v1/streams/{FIRST}/export?format=csv", own).text
    assert "scope-kd" in csv and "scope-hx" not in csv
    for path in (f"/api/v1/streams/{SECOND}/summary", "/screen", "/admin"):
        assert _get(stack, path, own).status_code == 403, path
    # The monitor page, as the browser asks for it: its own feed row only, its ingest
    # counters, no pipeline. The stream-limited viewer sees every partner's feed row but
    # neither the pipeline nor the ingest counters, which cover every stream.
    shown = _monitor(stack, own)
    assert "monitor-row-scope-kd" in shown and "monitor-row-scope-hx" not in shown
    assert "The pipeline is not shown to limited tokens" in shown
    assert "Accepted" in shown and "not shown to tokens limited to streams" not in shown
    shown = _monitor(stack, first_only)
    assert "monitor-row-scope-kd" in shown and "monitor-row-scope-hx" in shown
    assert "The pipeline is not shown to limited tokens" in shown
    assert "not shown to tokens limited to streams" in shown
    assert "The pipeline is not shown" not in _monitor(stack, full)


def _monitor(stack: Stack, token: str) -> str:
    """The monitor page's content for the first stream, in English, as a token reads it."""
    from tests.dashboard.fuzz import callback_request

    auth = {"Authorization": f"Bearer {token}"}
    dependencies = httpx.get(
        f"{stack.dashboard_url}/_dash-dependencies", headers=auth, timeout=30
    ).json()
    body = callback_request(dependencies, "monitor-title.children", [1, FIRST, "en"])
    response = httpx.post(
        f"{stack.dashboard_url}/_dash-update-component", json=body, headers=auth, timeout=30
    )
    assert response.status_code == 200, response.text[:300]
    return response.text
