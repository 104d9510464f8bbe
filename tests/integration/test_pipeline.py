"""End to end over real processes: partners post over HTTP, numbers come back from the API."""

from __future__ import annotations

import random
import time

import httpx
import pytest

from tests.conftest import Stack
from tests.oracle import Accepted, numbers, peak

pytestmark = pytest.mark.integration

STREAM = "e2e-stream"


@pytest.fixture(scope="module")
def registered(stack: Stack) -> dict[str, str]:
    """A stream, a sessions partner, a reports partner and a viewer token."""
    stack.cli("stream", "add", STREAM, "--title", "端到端 <b>test</b>", "--tz", "Asia/Shanghai")
    keys = {
        "web": stack.cli("partner", "add", "web", "--name", "网站", "--replace")
        .stdout.strip()
        .splitlines()[-1],
        "tv": stack.cli("partner", "add", "tv", "--name", "电视", "--mode", "reports", "--replace")
        .stdout.strip()
        .splitlines()[-1],
    }
    token = stack.cli("token", "create", "--role", "viewer").stdout.strip().splitlines()[-1]
    keys["token"] = token
    time.sleep(5.5)  # services pick registry changes up within 5 s
    return keys


def make_log(seed: int, base_ms: int, sessions: int = 40) -> list[Accepted]:
    """A small evening: joins, heartbeats every 10 s, some leaves, reconnecting viewers."""
    rnd = random.Random(seed)
    log: list[Accepted] = []
    for i in range(sessions):
        start = base_ms + rnd.randrange(0, 60_000)
        duration = rnd.randrange(5_000, 90_000)
        viewer = f"v{i % 25}" if i % 3 else None
        sid = f"{seed}-s{i}"
        log.append(Accepted("web", "join", start, sid, viewer))
        t = start + 10_000
        while t < start + duration:
            log.append(Accepted("web", "heartbeat", t, sid, viewer))
            t += 10_000
        if rnd.random() < 0.8:
            log.append(Accepted("web", "leave", start + duration, sid, viewer))
    for k in range(10):
        log.append(
            Accepted(
                "tv",
                "count",
                base_ms + k * 15_000,
                concurrent=100 + 7 * k,
                cumulative=500 + 40 * k,
                uniques=300 + 20 * k,
            )
        )
    return log


def to_wire(a: Accepted) -> dict[str, object]:
    out: dict[str, object] = {"type": a.type, "stream": STREAM, "ts": a.ts}
    for name in ("session_id", "viewer_id", "concurrent", "cumulative", "uniques"):
        value = getattr(a, name)
        if value is not None:
            out[name] = value
    return out


def post_all(stack: Stack, keys: dict[str, str], log: list[Accepted], seed: int) -> None:
    """Post the log shuffled, in uneven batches, with some batches sent twice."""
    rnd = random.Random(seed)
    by_platform: dict[str, list[Accepted]] = {}
    for a in log:
        by_platform.setdefault(a.platform, []).append(a)
    with httpx.Client(base_url=stack.ingest_url, timeout=30) as client:
        for platform, events in by_platform.items():
            rnd.shuffle(events)
            i = 0
            while i < len(events):
                size = rnd.randrange(1, 60)
                batch = [to_wire(a) for a in events[i : i + size]]
                for _ in range(2 if rnd.random() < 0.3 else 1):
                    r = client.post(
                        "/v1/events",
                        json={"events": batch},
                        headers={"Authorization": f"Bearer {keys[platform]}"},
                    )
                    assert r.status_code == 202, r.text
                    assert r.json() == {"accepted": len(batch)}
                i += size


def summary(stack: Stack, token: str, at_ms: int) -> dict:
    r = httpx.get(
        f"{stack.dashboard_url}/api/v1/streams/{STREAM}/summary",
        params={"at": at_ms},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()


def expected_at(log: list[Accepted], at_ms: int, first_s: int) -> dict:
    second = at_ms // 1000
    events = set(log)
    out: dict = {"platforms": {}}
    totals = [0, 0, 0]
    for platform in ("web", "tv"):
        c, v, u = numbers(events, platform, second * 1000)
        out["platforms"][platform] = (c, v, u)
        totals = [totals[0] + c, totals[1] + v, totals[2] + u]
    out["total"] = tuple(totals)
    out["peak"] = peak(events, ["web", "tv"], range(first_s, second + 1))
    return out


def actual_at(doc: dict) -> dict:
    return {
        "platforms": {
            p: (v["concurrent"], v["views"], v["uniques"]) for p, v in doc["platforms"].items()
        },
        "total": (doc["total"]["concurrent"], doc["total"]["views"], doc["total"]["uniques"]),
        "peak": doc["total"]["peak_concurrent"],
    }


def wait_exact(stack: Stack, token: str, log: list[Accepted], instants: list[int]) -> None:
    first_s = min(a.ts for a in log) // 1000 - 1
    want = {t: expected_at(log, t, first_s) for t in instants}
    deadline = time.monotonic() + 60
    while True:
        got = {t: actual_at(summary(stack, token, t)) for t in instants}
        mismatched = [
            t
            for t in instants
            if got[t]["total"] != want[t]["total"]
            or got[t]["peak"] != want[t]["peak"][0]
            or any(got[t]["platforms"].get(p) != want[t]["platforms"][p] for p in ("web", "tv"))
        ]
        if not mismatched:
            return
        if time.monotonic() > deadline:
            t = mismatched[0]
            pytest.fail(f"at {t}: got {got[t]} want {want[t]}")
        time.sleep(1)


def test_streams_api_lists_the_registered_stream(stack: Stack, registered: dict[str, str]):
    r = httpx.get(
        f"{stack.dashboard_url}/api/v1/streams",
        headers={"Authorization": f"Bearer {registered['token']}"},
    )
    assert r.status_code == 200
    streams = {s["id"]: s for s in r.json()["streams"]}
    assert streams[STREAM]["title"] == "端到端 <b>test</b>"
    assert streams[STREAM]["tz"] == "Asia/Shanghai"


def test_the_programme_entered_with_the_cli_reaches_the_dashboard(stack: Stack, registered):
    bearer = {"Authorization": f"Bearer {registered['token']}"}
    url = f"{stack.dashboard_url}/api/v1/streams/{STREAM}"
    add = ("segment", "add", STREAM, "--id")
    stack.cli(*add, "opening", "--start", "2024-12-21T19:00", "--title", "开幕式")
    stack.cli(*add, "dance", "--start", "2024-12-21T19:30", "--title", "街舞")
    listed = stack.cli("segment", "list", STREAM).stdout
    assert "opening" in listed and "2024-12-21 19:30:00" in listed
    stack.cli("segment", "remove", STREAM, "opening")

    def titles() -> list[str]:
        body = httpx.get(f"{url}/segments", headers=bearer).json()
        return [s["title"] for s in body["segments"]]

    deadline = time.monotonic() + 15  # services pick registry changes up within 5 s
    while titles() != ["街舞"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert titles() == ["街舞"]  # the removal (a tombstone) reached the dashboard too
    at = httpx.get(f"{url}/summary?at=2024-12-21T19:45:00%2B08:00", headers=bearer).json()
    assert at["segment"]["id"] == "dance"
    assert "opening" not in stack.cli("segment", "list", STREAM).stdout
    stack.cli("segment", "remove", STREAM, "dance")


def test_the_public_counter_serves_a_public_token_s_stream(stack: Stack, registered):
    out = stack.cli("token", "create", "--role", "public", "--stream", STREAM, "--name", "site")
    public = out.stdout.strip().splitlines()[-1]
    live = f"{stack.public_url}/api/v1/public/live?token={public}"
    deadline = time.monotonic() + 15  # services pick registry changes up within 5 s
    response = httpx.get(live)
    while response.status_code == 401 and time.monotonic() < deadline:
        time.sleep(0.5)
        response = httpx.get(live)
    assert response.status_code == 200, response.text
    body = response.json()
    bearer = {"Authorization": f"Bearer {registered['token']}"}
    summary = httpx.get(
        f"{stack.dashboard_url}/api/v1/streams/{STREAM}/summary",
        params={"at": body["as_of"]},
        headers=bearer,
    ).json()
    assert body["stream"] == STREAM and body["title"] == "端到端 <b>test</b>"
    for name in ("concurrent", "views", "uniques", "peak_concurrent"):
        assert body[name] == summary["total"][name]
    cached = httpx.get(live, headers={"If-None-Match": response.headers["ETag"]})
    assert cached.status_code in (200, 304)  # 304 unless a second passed
    embed = httpx.get(f"{stack.public_url}/embed?token={public}")
    assert embed.status_code == 200 and "人正在观看" in embed.text
    # The public token opens nothing else, and a viewer token not the counter.
    refused = httpx.get(
        f"{stack.dashboard_url}/api/v1/streams", headers={"Authorization": f"Bearer {public}"}
    )
    assert refused.status_code == 403
    other = httpx.get(f"{stack.public_url}/api/v1/public/live?token={registered['token']}")
    assert other.status_code == 401


def test_api_needs_a_token(stack: Stack, registered: dict[str, str]):
    r = httpx.get(f"{stack.dashboard_url}/api/v1/streams/{STREAM}/summary")
    assert r.status_code == 401


def test_numbers_equal_the_definitions_whatever_the_order(stack: Stack, registered):
    base = (int(time.time() * 1000) - 600_000) // 1000 * 1000
    log = make_log(seed=1, base_ms=base)
    post_all(stack, registered, log, seed=11)
    instants = [base + d for d in (0, 15_500, 30_000, 45_250, 60_000, 90_999, 200_000)]
    wait_exact(stack, registered["token"], log, instants)


def test_worker_kill_9_then_restart_gives_the_same_numbers(stack: Stack, registered):
    base = (int(time.time() * 1000) - 1_200_000) // 1000 * 1000
    log = make_log(seed=2, base_ms=base, sessions=30)
    half = len(log) // 2
    post_all(stack, registered, log[:half], seed=21)
    stack.kill("worker", 9)
    # Accepted while the worker is down: Kafka keeps them.
    post_all(stack, registered, log[half:], seed=22)
    stack.start("worker")
    # seed 1's events (previous test) lie 10 minutes later, so they change none of these.
    instants = [base + d for d in (5_000, 31_000, 62_000, 150_000)]
    wait_exact(stack, registered["token"], log, instants)


def test_the_worst_patterns_one_partner_can_send_still_count_exactly(stack: Stack, registered):
    """One session with heartbeats at distinct milliseconds (many in one second), leaves out
    of order among them, and a reports partner with several reports a second: after the
    attack the numbers equal the definitions at every second it touched."""
    base = (int(time.time() * 1000) - 1_800_000) // 1000 * 1000
    rnd = random.Random(5)
    log = make_log(seed=5, base_ms=base, sessions=10)
    # 1,500 heartbeats: 1,000 within the first two seconds, then one every 37 ms.
    starts = [base + 2 * i for i in range(1_000)] + [base + 2_000 + 37 * i for i in range(500)]
    log += [Accepted("web", "heartbeat", ts, "attack") for ts in starts]
    for ts in rnd.sample(range(base, base + 20_500), 60):
        log.append(Accepted("web", "leave", ts, "attack"))
    log += [
        Accepted("tv", "count", base + 250 * k + rnd.randrange(3), concurrent=rnd.randrange(900))
        for k in range(200)
    ]
    post_all(stack, registered, log, seed=55)
    instants = [base + d for d in (0, 999, 1_000, 2_001, 5_000, 12_345, 20_000, 49_999, 90_000)]
    wait_exact(stack, registered["token"], log, instants)
