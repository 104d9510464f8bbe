"""The dashboard in a real headless Chromium against the running stack."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STREAM = "browser-stream"


def _require_chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("LIVETALLY_REQUIRE_BROWSER"):
        pytest.fail("chromium is required (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


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
    return {"token": token}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=executable,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
            ],
        )
        yield b
        b.close()


def shots_dir(tmp_path: Path) -> Path:
    target = os.environ.get("LIVETALLY_SCREENSHOTS_DIR")
    return Path(target) if target else tmp_path


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
    page.screenshot(path=str(shots_dir(tmp_path) / "live.png"))
    label = page.inner_text("#live-label-concurrent")
    page.get_by_text("EN", exact=True).click()
    page.wait_for_function(
        "(before) => document.querySelector('#live-label-concurrent').innerText !== before",
        arg=label,
        timeout=10_000,
    )
    assert "oncurrent" in page.inner_text("#live-label-concurrent")
    page.reload()
    page.wait_for_timeout(1500)
    assert "oncurrent" in page.inner_text("#live-label-concurrent")  # remembered
    page.close()


def test_screen_opens_from_a_read_only_link(stack: Stack, seeded, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{stack.dashboard_url}/screen?token={seeded['token']}")
    page.wait_for_selector("#screen-title")
    page.wait_for_timeout(2500)
    assert page.inner_text("#screen-title").strip() != ""
    page.screenshot(path=str(shots_dir(tmp_path) / "screen.png"))
    page.close()


def test_pages_without_a_token_are_refused(stack: Stack, seeded):
    assert httpx.get(f"{stack.dashboard_url}/").status_code == 401
    assert httpx.get(f"{stack.dashboard_url}/screen").status_code == 401
