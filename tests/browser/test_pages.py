"""The dashboard in a real headless Chromium against the running stack."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.browser.conftest import shots_dir
from tests.conftest import Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

STREAM = "browser-stream"


@pytest.fixture(scope="module")
def seeded(stack: Stack) -> dict[str, str]:
    """A stream with an hour-long session timeout, so its numbers hold still while we look."""
    stack.cli("stream", "add", STREAM, "--title", "浏览器 <script>alert(1)</script>")
    key = (
        stack.cli(
            "partner", "add", "bp", "--name", "<script>x</script>平台", "--session-timeout", "3600"
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    token = stack.cli("token", "create", "--role", "viewer").stdout.strip().splitlines()[-1]
    time.sleep(5.5)
    now = int(time.time() * 1000)
    events = [
        {"type": "join", "stream": STREAM, "ts": now - 30_000 + i, "session_id": f"b{i}"}
        for i in range(37)
    ]
    r = httpx.post(
        f"{stack.ingest_url}/v1/events",
        json={"events": events},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 202, r.text
    return {"token": token, "posted_at": time.time()}


def api_summary(stack: Stack, token: str, stream: str) -> dict:
    r = httpx.get(
        f"{stack.dashboard_url}/api/v1/streams/{stream}/summary",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200
    return r.json()


def as_int(text: str) -> int:
    return int(text.replace(",", "").strip())


def test_live_page_shows_the_apis_numbers_and_switches_language(
    stack: Stack, seeded, browser, tmp_path
):
    token = seeded["token"]
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{stack.dashboard_url}/?token={token}")
    assert "token=" not in page.url  # the token is swapped for a cookie at once
    streams = httpx.get(
        f"{stack.dashboard_url}/api/v1/streams", headers={"Authorization": f"Bearer {token}"}
    ).json()["streams"]
    by_title = {s["title"]: s["id"] for s in streams}
    deadline = time.monotonic() + 60
    total: dict = {}
    while True:
        page.wait_for_timeout(1000)
        title = page.inner_text("#live-title")
        shown = {
            name: page.inner_text(f"#live-total-{name}")
            for name in ("concurrent", "views", "uniques")
        }
        if title in by_title and all(v.strip() not in ("", "–") for v in shown.values()):
            total = api_summary(stack, token, by_title[title])["total"]
            if {k: as_int(v) for k, v in shown.items()} == {
                k: total[k] for k in ("concurrent", "views", "uniques")
            }:
                break
        if time.monotonic() > deadline:
            pytest.fail(f"page shows {title!r} {shown}, API says {total}")
    # User-supplied text is shown as text, never run as markup.
    assert page.locator("script", has_text="alert(1)").count() == 0
    page.screenshot(path=str(shots_dir(tmp_path) / "pages-live.png"))
    label = page.inner_text("#live-label-concurrent")
    page.get_by_text("EN", exact=True).click()
    page.wait_for_function(
        "(before) => document.querySelector('#live-label-concurrent').innerText !== before",
        arg=label,
        timeout=10_000,
    )
    assert "oncurrent" in page.inner_text("#live-label-concurrent")
    page.reload()
    page.wait_for_function(
        "() => (document.querySelector('#live-label-concurrent') || {}).innerText",
        timeout=20_000,
    )
    assert "oncurrent" in page.inner_text("#live-label-concurrent")  # remembered
    page.close()


def test_screen_opens_from_a_read_only_link(stack: Stack, seeded, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{stack.dashboard_url}/screen?token={seeded['token']}")
    page.wait_for_selector("#screen-title")
    page.wait_for_timeout(2500)
    assert page.inner_text("#screen-title").strip() != ""
    page.screenshot(path=str(shots_dir(tmp_path) / "pages-screen.png"))
    page.close()


def test_pages_without_a_token_are_refused(stack: Stack, seeded):
    assert httpx.get(f"{stack.dashboard_url}/").status_code == 401
    assert httpx.get(f"{stack.dashboard_url}/screen").status_code == 401


def choose_stream(page, title: str) -> None:
    """Pick a stream in the shell's selector (shown only when there are several)."""
    select = page.locator("#app-stream-select")
    if select.is_visible():
        select.click()
        page.get_by_role("option", name=title).click()


def publish_monitor_records(stack: Stack) -> dict:
    """A worker report, an ingest report with rejections, and an alert, as the producers send."""
    import orjson
    from kafka import KafkaProducer

    from contract.topics import ALERTS, METRICS

    kafka = stack.settings.kafka
    now = int(time.time() * 1000)
    records = {
        "pipeline": {
            "kind": "pipeline",
            "worker": "browser-worker",
            "at": now,
            "partitions": [0, 1, 2, 3],
            "lag": {"0": 1200, "1": 34, "2": 0, "3": 5},
            "latency_ms": {"p50": 85, "p95": 410, "p99": 990},
            "events_per_s": 250.0,
        },
        "ingest": {
            "kind": "ingest",
            "instance": "browser-ingest",
            "partner": "bp",
            "at": now,
            "accepted": 0,
            "rejected": {"bad_value": 3, "ts_too_old": 2},
        },
        "alert": {
            "id": f"browser-{now}",
            "at": now,
            "raised_at": now,
            "stream": STREAM,
            "platform": "bp",
            "kind": "stale",
            "level": "warning",
            "message_zh": "<b>平台</b> 数据延迟",
            "message_en": "<b>bp</b> is stale",
            "value": 45,
        },
    }
    producer = KafkaProducer(bootstrap_servers=kafka.servers, acks="all")
    try:
        producer.send(
            kafka.topic(METRICS),
            key=b"pipeline/browser-worker",
            value=orjson.dumps(records["pipeline"]),
        )
        producer.send(
            kafka.topic(METRICS),
            key=b"ingest/browser-ingest/bp",
            value=orjson.dumps(records["ingest"]),
        )
        producer.send(
            kafka.topic(ALERTS),
            key=records["alert"]["id"].encode(),
            value=orjson.dumps(records["alert"]),
        )
        producer.flush()
    finally:
        producer.close()
    return records


def test_monitor_page_shows_feed_health_pipeline_and_alerts(
    stack: Stack, seeded, browser, tmp_path
):
    publish_monitor_records(stack)
    page = browser.new_page(viewport={"width": 1600, "height": 1100})
    page.goto(f"{stack.dashboard_url}/monitor?token={seeded['token']}")
    page.get_by_text("EN", exact=True).click()
    page.wait_for_selector("#monitor-title")
    choose_stream(page, "浏览器 <script>alert(1)</script>")
    deadline = time.monotonic() + 60
    cells: list[str] = []
    while time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        row = page.locator("#monitor-row-bp td")
        pipeline = page.locator("#monitor-pipeline tr", has_text="browser-worker")
        if row.count() == 7 and pipeline.count() == 1:
            cells = [c.strip() for c in row.all_inner_texts()]
            if cells[3] == "37" and "bad_value" in cells[6]:
                break
    else:
        pytest.fail(f"monitor row for bp shows {cells}")
    # 37 events were posted for bp; the rejections and the pipeline are the records we sent.
    assert cells[0] == "<script>x</script>平台"
    since_post = time.time() - seeded["posted_at"]
    assert cells[1] == ("live" if since_post < 29 else "stale" if since_post > 31 else cells[1])
    assert abs(int(cells[4]) - since_post) <= 5  # newest event age in seconds
    assert cells[6] == "bad_value 3, ts_too_old 2"
    worker = [c.strip() for c in pipeline.locator("td").all_inner_texts()]
    assert worker[:4] == ["browser-worker", "0, 1, 2, 3", "1,239", "85/410/990"]
    page.wait_for_function(
        "() => document.querySelector('#monitor-alerts').innerText.includes('is stale')",
        timeout=20_000,
    )
    assert "<b>bp</b> is stale" in page.inner_text("#monitor-alerts")  # shown as text
    assert page.locator("#monitor-alerts b").count() == 0
    history = page.inner_text("#monitor-history")
    assert "live" in history
    page.screenshot(path=str(shots_dir(tmp_path) / "monitor.png"), full_page=True)
    page.close()


def test_exports_page_links_download_the_apis_numbers(stack: Stack, seeded, browser, tmp_path):
    token = seeded["token"]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{stack.dashboard_url}/exports?token={token}")
    page.get_by_text("EN", exact=True).click()
    page.wait_for_selector("#exports-download")
    choose_stream(page, "浏览器 <script>alert(1)</script>")
    page.locator("#exports-format").get_by_text("csv", exact=True).click()
    page.locator("#exports-lang").get_by_text("English", exact=True).click()
    # Each click is its own callback round trip: wait for the link to show all three.
    page.wait_for_function(
        "(s) => { const href = document.querySelector('#exports-download')"
        ".getAttribute('href') || ''; return href.includes(s) && href.includes('format=csv')"
        " && href.includes('lang=en'); }",
        arg=STREAM,
        timeout=20_000,
    )
    href = page.get_attribute("#exports-download", "href")
    assert "lang=en" in href and "resolution=1m" in href
    download = page.request.get(f"{stack.dashboard_url}{href}")
    assert download.status == 200
    assert "attachment" in download.headers["content-disposition"]
    import io

    import pandas as pd

    frame = pd.read_csv(io.BytesIO(download.body()), encoding="utf-8-sig")
    total = frame[frame["platform"] == "total"].iloc[-1]
    api = api_summary(stack, token, STREAM)["total"]
    assert (
        (int(total["views"]), int(total["uniques"])) == (api["views"], api["uniques"]) == (37, 37)
    )
    page.screenshot(path=str(shots_dir(tmp_path) / "exports.png"))
    with page.expect_popup() as popup:
        page.click("#exports-report")
    report = popup.value
    report.wait_for_selector("#report-partners")
    rows = report.locator("#report-partners tr.total td").all_inner_texts()
    assert rows[3].strip() == "37"  # views in the total row
    assert report.locator("svg polyline").count() == 2
    report.screenshot(path=str(shots_dir(tmp_path) / "report.png"), full_page=True)
    report.close()
    page.close()


def test_admin_page_is_refused_to_a_viewer(stack: Stack, seeded):
    with httpx.Client(base_url=stack.dashboard_url) as client:
        signed_in = client.get(f"/monitor?token={seeded['token']}")
        assert signed_in.status_code == 303
        assert seeded["token"] not in signed_in.headers["set-cookie"]
        assert client.get("/admin").status_code == 403
        assert client.get("/monitor").status_code == 200
        client.cookies.clear()
        client.cookies.set("livetally_token", seeded["token"])  # the token itself is no cookie
        assert client.get("/monitor").status_code == 401


def test_sign_in_page_renders_and_signs_in(stack: Stack, seeded, browser, tmp_path):
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="en-US")
    response = page.goto(f"{stack.dashboard_url}/screen?kiosk=1")
    assert response is not None and response.status == 401
    page.wait_for_selector("input#token")
    assert page.locator("h1").inner_text().strip() == "Livestream audience"
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390  # fits a phone
    page.screenshot(path=str(shots_dir(tmp_path) / "signin.png"))
    page.fill("input#token", "not-a-token")
    page.click("button[type=submit]")
    page.wait_for_selector(".error")
    assert "not valid" in page.inner_text(".error")
    page.fill("input#token", seeded["token"])
    page.click("button[type=submit]")
    page.wait_for_selector("#screen-title")
    assert page.url.endswith("/screen?kiosk=1")
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == ["livetally_session"]
    assert cookies[0]["httpOnly"] and seeded["token"] not in cookies[0]["value"]
    page.close()
