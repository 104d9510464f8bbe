"""Security at the edges: keys, tokens, rate limits, hostile names, and secrets in logs."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest

from tests.reliability.conftest import SCRIPT_NAME, RStack

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

STREAM = "rel-security"


def _events(n: int, sid: str, **extra: object) -> bytes:
    ts = int(time.time() * 1000) - 120_000
    return orjson.dumps(
        {
            "events": [
                {"type": "heartbeat", "stream": STREAM, "ts": ts + i, "session_id": f"{sid}{i}"}
                | extra
                for i in range(n)
            ]
        }
    )


def _post(rel: RStack, key: str | None, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.post(
        f"{rel.stack.ingest_url}/v1/events", content=body, headers=headers, timeout=30
    )


def test_a_key_cannot_post_for_another_platform(rel: RStack) -> None:
    r = _post(rel, rel.keys.partners["p01"], _events(1, "a", platform="p02"))
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "platform_mismatch"
    assert _post(rel, rel.keys.partners["p01"], _events(1, "a", platform="p01")).status_code == 202


@pytest.mark.parametrize("which", ["revoked", "unknown", "malformed", "missing"])
def test_revoked_unknown_and_missing_keys_get_401(rel: RStack, which: str) -> None:
    key = {
        "revoked": rel.keys.revoked,
        "unknown": "ltk_" + "x" * 32,
        "malformed": "not a key {at} all",
        "missing": None,
    }[which]
    r = _post(rel, key, _events(1, "k"))
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "WWW-Authenticate" in r.headers


def test_over_rate_partner_gets_429_others_unaffected(rel: RStack) -> None:
    slow, other = rel.keys.partners["slow"], rel.keys.partners["p02"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        slow_codes = list(pool.map(lambda i: _post(rel, slow, _events(15, f"r{i}")), range(8)))
        other_codes = list(pool.map(lambda i: _post(rel, other, _events(15, f"o{i}")), range(8)))
    limited = [r for r in slow_codes if r.status_code == 429]
    assert limited, [r.status_code for r in slow_codes]
    assert all(float(r.headers["Retry-After"]) > 0 for r in limited)
    assert {r.status_code for r in slow_codes} <= {202, 429}
    assert [r.status_code for r in other_codes] == [202] * 8


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/screen",
        "/monitor",
        "/admin",
        "/api/v1/streams",
        f"/api/v1/streams/{STREAM}/summary",
        f"/api/v1/streams/{STREAM}/series?resolution=1m",
        "/api/v1/admin/partners",
        "/_dash-layout",
    ],
)
def test_dashboard_needs_a_token(rel: RStack, path: str) -> None:
    r = httpx.get(rel.stack.dashboard_url + path, timeout=30)
    assert r.status_code == 401, f"{path}: {r.status_code}"
    bad = httpx.get(
        rel.stack.dashboard_url + path, headers={"Authorization": "Bearer nope"}, timeout=30
    )
    assert bad.status_code == 401, f"{path} with a bad token: {bad.status_code}"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/admin/partners"),
        ("GET", "/api/v1/admin/tokens"),
        ("POST", "/api/v1/admin/tokens"),
        ("POST", "/api/v1/admin/partners"),
        ("POST", "/api/v1/admin/partners/p01/revoke"),
    ],
)
def test_a_viewer_token_cannot_reach_admin_actions(rel: RStack, method: str, path: str) -> None:
    url = rel.stack.dashboard_url + path
    body = {"role": "admin"} if "tokens" in path else {"id": "evil", "name": "evil"}
    viewer = httpx.request(
        method, url, json=body, headers={"Authorization": f"Bearer {rel.keys.viewer}"}, timeout=30
    )
    assert viewer.status_code == 403, f"{method} {path}: {viewer.status_code} {viewer.text[:200]}"
    if method == "GET":  # the route exists: an admin token is let in
        admin = httpx.get(url, headers={"Authorization": f"Bearer {rel.keys.admin}"}, timeout=30)
        assert admin.status_code == 200, admin.text[:300]


def test_a_script_name_comes_back_as_json_text(rel: RStack) -> None:
    assert _post(rel, rel.keys.partners["xss"], _events(1, "x")).status_code == 202
    deadline = time.monotonic() + 60
    while True:
        r = httpx.get(
            f"{rel.stack.dashboard_url}/api/v1/streams/{STREAM}/summary",
            headers={"Authorization": f"Bearer {rel.keys.viewer}"},
            timeout=30,
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/json")
        if "xss" in r.json()["platforms"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert r.json()["platforms"]["xss"]["name"] == SCRIPT_NAME


def test_keys_and_tokens_never_appear_in_logs(rel: RStack) -> None:
    # Use every secret once in a URL and a header, where a careless log would catch them.
    for secret in [*rel.keys.partners.values(), rel.keys.revoked]:
        _post(rel, secret, _events(1, "l"))
    for token in (rel.keys.viewer, rel.keys.admin):
        httpx.get(f"{rel.stack.dashboard_url}/?token={token}", timeout=30)
        httpx.get(
            f"{rel.stack.dashboard_url}/api/v1/streams",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    time.sleep(1)
    secrets = [*rel.keys.partners.values(), rel.keys.revoked, rel.keys.viewer, rel.keys.admin]
    roots = (rel.stack.logs, rel.home / "logs", rel.home / "kafka")
    files = [p for d in roots for p in Path(d).rglob("*") if p.is_file() and "log" in p.name]
    assert any(f.name == "ingest.log" for f in files), files
    leaks = []
    for f in files:
        data = f.read_bytes()
        leaks += [f"{f.name}: {s[:8]}…" for s in secrets if s.encode() in data]
    assert not leaks, leaks
    print(f"secrets: {len(secrets)} keys/tokens absent from {len(files)} log files")
