"""Every page at a phone's, the big screen's and a 4K wall's size, in a real Chromium.

The stream is the carnival at full size: eleven partners reporting their own counts, a
total past 10万 next to partners in the thousands, so both number styles show at once.
With ``LIVETALLY_SCREENSHOTS_DIR=docs/screenshots`` these tests write the README's
screenshots.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from livetally.demo.carnival import PARTNERS
from tests.browser.conftest import shots_dir
from tests.browser.geometry import CHART_PARTS, overflow, overlaps
from tests.conftest import Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

STREAM = "layout-carnival"
TITLE = "成都市第八届社区邻里嘉年华"
PHONE = {"width": 390, "height": 844}
SCREEN = {"width": 1920, "height": 1080}
WALL = {"width": 3840, "height": 2160}
HISTORY_S = 900
"""Seconds of reports posted before the tests look (15 minutes of the evening)."""
CHARTS = {**CHART_PARTS, "segment title": ".annotation"}
"""Plotly's parts and the programme's segment titles."""
PROGRAMME = [("开幕式", "Opening"), ("社区舞蹈", "Community dance"), ("邻里合唱", "Choir")]


def audience(t: float) -> int:
    """The evening's total concurrency ``t`` seconds into the history: past 10万 at the end."""
    return int(20_000 + 105_000 * min(1.0, t / HISTORY_S) ** 1.5)


class Feeder:
    """Posts every partner's counts: a history, then a fresh report every few seconds (a
    reports-mode count holds for 120 s), growing so the numbers keep changing."""

    def __init__(self, stack: Stack, keys: dict[str, str]) -> None:
        self.stack = stack
        self.keys = keys
        self.start_ms = int(time.time() * 1000) - HISTORY_S * 1000
        self.stop = threading.Event()
        self.bump = 0

    def report(self, partner_index: int, ts: int) -> dict[str, Any]:
        partner = PARTNERS[partner_index]
        t = (ts - self.start_ms) / 1000
        total = audience(t) + self.bump
        concurrent = int(total * partner.weight) + 37 * partner_index
        cumulative = int(concurrent * (2.0 + 6.0 * min(1.0, t / HISTORY_S)))
        return {
            "type": "count",
            "stream": STREAM,
            "ts": ts,
            "concurrent": concurrent,
            "cumulative": cumulative,
            "uniques": int(cumulative * 0.93),
        }

    def post(self, stamps: list[int]) -> None:
        for i, partner in enumerate(PARTNERS):
            r = httpx.post(
                f"{self.stack.ingest_url}/v1/events",
                json={"events": [self.report(i, ts) for ts in stamps]},
                headers={"Authorization": f"Bearer {self.keys[partner.id]}"},
                timeout=10,
            )
            assert r.status_code == 202, r.text

    def history(self) -> None:
        self.post(list(range(self.start_ms, self.start_ms + HISTORY_S * 1000, 10_000)))

    def run(self) -> None:
        while not self.stop.wait(4):
            try:
                self.post([int(time.time() * 1000)])
            except (AssertionError, httpx.HTTPError):
                pass  # the next round tries again; a test that needs fresh numbers waits

    def grow(self, by: int) -> None:
        """Raise every later report's total by ``by`` viewers and post one now."""
        self.bump += by
        self.post([int(time.time() * 1000)])


@pytest.fixture(scope="module")
def carnival(stack: Stack) -> Iterator[dict[str, Any]]:
    stack.cli("stream", "add", STREAM, "--title", TITLE, "--tz", "Asia/Shanghai")
    keys = {}
    for p in PARTNERS:
        out = stack.cli(
            "partner", "add", p.id, "--name", p.name, "--name-en", p.name_en,
            "--mode", "reports", "--replace",
        )  # fmt: skip
        keys[p.id] = out.stdout.strip().splitlines()[-1]
    token = stack.cli("token", "create", "--role", "viewer").stdout.strip().splitlines()[-1]
    feeder = Feeder(stack, keys)
    for i, (zh, en) in enumerate(PROGRAMME):  # bands and their titles on every chart
        start = str(feeder.start_ms + i * HISTORY_S * 1000 // len(PROGRAMME))
        stack.cli("segment", "add", STREAM, "--start", start, "--title", zh, "--title-en", en)
    time.sleep(5.5)  # ingest and the worker pick up the registry
    feeder.history()
    feeder.post([int(time.time() * 1000)])
    deadline = time.monotonic() + 60
    while True:
        r = httpx.get(
            f"{stack.dashboard_url}/api/v1/streams/{STREAM}/summary",
            headers={"Authorization": f"Bearer {token}"},
        )
        if r.status_code == 200 and r.json()["total"]["concurrent"] >= 100_000:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the carnival's numbers did not arrive: {r.status_code} {r.text[:300]}")
        time.sleep(1)
    thread = threading.Thread(target=feeder.run, daemon=True)
    thread.start()
    try:
        yield {"token": token, "feeder": feeder}
    finally:
        feeder.stop.set()
        thread.join(timeout=30)


def open_page(browser, stack: Stack, token: str, path: str, viewport: dict, **kwargs) -> Any:
    """A page at ``path`` (with its query) signed in, once its numbers and charts are drawn."""
    page = browser.new_page(viewport=viewport, **kwargs)
    sep = "&" if "?" in path else "?"
    page.goto(f"{stack.dashboard_url}{path}{sep}token={token}")
    return page


def wait_for_numbers(page, selector: str) -> None:
    page.wait_for_function(
        "(s) => { const el = document.querySelector(s); return el && /[0-9]/.test(el.innerText); }",
        arg=selector,
        timeout=30_000,
    )


def wait_for_charts(page, count: int) -> None:
    page.wait_for_function(
        "(n) => document.querySelectorAll('.js-plotly-plot .scatterlayer .trace').length >= n",
        arg=count,
        timeout=30_000,
    )
    page.wait_for_timeout(800)  # plotly's margins settle after a second layout pass


def choose_stream(page) -> None:
    select = page.locator("#app-stream-select")
    if select.is_visible():
        select.click()
        page.get_by_role("option", name=TITLE).click()
        page.wait_for_timeout(1500)


def assert_fits_width(page) -> None:
    size = overflow(page)
    assert size["scrollWidth"] <= size["innerWidth"], f"scrolls sideways: {size}"


def assert_no_overlaps(page, groups: dict[str, str]) -> dict[str, Any]:
    found = overlaps(page, groups)
    assert found["problems"] == [], "\n".join(found["problems"])
    return found


def assert_one_line(page, selector: str) -> None:
    """Each element holds its text on one line (a squeezed table cell wraps per character):
    its content box is less than two lines of its font high."""
    heights = page.evaluate(
        "(s) => [...document.querySelectorAll(s)].filter((el) => el.offsetParent)"
        ".map((el) => { const st = getComputedStyle(el);"
        " const pad = ['paddingTop', 'paddingBottom', 'borderTopWidth', 'borderBottomWidth']"
        ".reduce((sum, k) => sum + parseFloat(st[k]), 0);"
        " return [el.innerText, el.getBoundingClientRect().height - pad,"
        " parseFloat(st.fontSize)]; })",
        selector,
    )
    assert heights, f"no visible {selector}"
    tall = [(t, h) for t, h, size in heights if h > 2 * size]
    assert tall == [], f"text wraps: {tall}"


LIVE_PARTS = {
    "card": ".lt-card",
    "page title": "#live-title",
    "peak time": "#live-total-peak-at",
    "nav item": ".lt-nav > *",
    **CHARTS,
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_live_page_fits_a_phone(stack: Stack, carnival, browser, tmp_path, lang):
    page = open_page(browser, stack, carnival["token"], "/", PHONE)
    if lang == "en":
        page.get_by_text("EN", exact=True).click()
    choose_stream(page)
    wait_for_numbers(page, "#live-total-concurrent")
    wait_for_charts(page, 2 * (len(PARTNERS) + 1))
    assert_fits_width(page)
    found = assert_no_overlaps(page, LIVE_PARTS)
    assert {"card", "peak time", "chart title", "legend", "y tick", "segment title"} <= set(
        found["names"]
    )
    # The navigation wraps inside the screen; the partners are a list of one-line rows.
    nav = page.evaluate(
        "() => [...document.querySelectorAll('.lt-nav > *')].filter((el) => el.offsetParent)"
        ".map((el) => el.getBoundingClientRect().right)"
    )
    assert nav and max(nav) <= PHONE["width"]
    assert_one_line(page, "#live-partners .lt-plist-name, #live-partners .lt-plist-value")
    rows = page.locator("#live-partners .lt-plist-row")
    assert rows.count() == len(PARTNERS)
    if lang == "zh":
        page.screenshot(path=str(shots_dir(tmp_path) / "live-phone.png"), full_page=True)
    page.close()


POINT_OF_TOTAL = """(sel) => { const gd = document.querySelector(sel), L = gd._fullLayout;
  const t = gd.data[0], i = Math.floor(t.x.length * 0.6), r = gd.getBoundingClientRect();
  return [r.left + L.xaxis._offset + L.xaxis.d2p(t.x[i]),
          r.top + L.yaxis._offset + L.yaxis.d2p(t.y[i])]; }"""
"""Where on the page a point of the total's line is drawn."""


def test_the_live_page_on_a_desk_shows_one_number_format(stack: Stack, carnival, browser, tmp_path):
    page = open_page(browser, stack, carnival["token"], "/", {"width": 1600, "height": 1000})
    choose_stream(page)
    wait_for_numbers(page, "#live-total-concurrent")
    wait_for_charts(page, 2 * (len(PARTNERS) + 1))
    assert_fits_width(page)
    assert_no_overlaps(page, LIVE_PARTS)
    total = page.inner_text("#live-total-concurrent")
    assert total.endswith("万") and "." in total  # past 10万: 万 with one decimal
    cells = page.locator("#live-partners table td.lt-num").all_inner_texts()
    numbers = [c for c in cells if not c.endswith("%")]
    assert numbers and all(c.endswith("万") or "," in c or len(c) <= 3 for c in numbers), cells
    assert_one_line(page, "#live-partners table td")
    page.screenshot(path=str(shots_dir(tmp_path) / "live.png"))
    # Hovering the chart shows the value as the cards do, not plotly's 27.5k.
    page.locator("#live-chart").scroll_into_view_if_needed()
    x, y = page.evaluate(POINT_OF_TOTAL, "#live-chart .js-plotly-plot")
    page.mouse.move(x - 5, y)  # plotly answers mouse moves, not a pointer that appears
    page.mouse.move(x, y)
    page.wait_for_selector("#live-chart .hovertext", timeout=10_000)
    hovers = page.locator("#live-chart .hovertext").all_text_contents()
    values = [h.rsplit("· ", 1)[-1] for h in hovers]
    assert values and all(re.fullmatch(r"\d{1,3}(,\d{3})*|\d+\.\d万", v) for v in values), hovers
    page.close()


CARD_VALUES_FIT = """() => [...document.querySelectorAll('.lt-card-value')].map(
    (el) => [el.id, el.innerText, el.scrollWidth, el.clientWidth])"""
"""Each card value: its id, text, the width of its text and of its box (the card's inside)."""


@pytest.mark.parametrize("width", [768, 1024, 1280])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_live_page_s_numbers_fit_their_cards_between_phone_and_desk(
    stack: Stack, carnival, browser, width, lang
):
    page = open_page(browser, stack, carnival["token"], "/", {"width": width, "height": 900})
    choose_stream(page)
    wait_for_numbers(page, "#live-total-concurrent")
    if lang == "en":
        page.get_by_text("EN", exact=True).click()
        page.wait_for_function(
            "() => document.querySelector('#live-total-views').innerText.includes(',')",
            timeout=15_000,
        )
    assert_fits_width(page)
    cards = page.evaluate(CARD_VALUES_FIT)
    assert len(cards) == 4
    assert all(value <= room for _, _, value, room in cards), cards
    if lang == "en":
        assert "," in cards[2][1]  # views in English: 1,016,xxx, the widest value
    page.close()


@pytest.mark.parametrize("path", ["/monitor", "/exports"])
def test_monitor_and_exports_fit_a_phone(stack: Stack, carnival, browser, path):
    page = open_page(browser, stack, carnival["token"], path, PHONE)
    choose_stream(page)
    page.wait_for_selector("#monitor-partners tr, #exports-download[href*=layout]")
    page.wait_for_timeout(1000)
    assert_fits_width(page)
    assert_no_overlaps(
        page,
        {
            "nav item": ".lt-nav > *",
            "title": ".lt-title",
            "field": ".lt-field",
            "button": ".lt-button",
            "section": ".lt-scroll",
        },
    )
    if path == "/monitor":  # wide tables scroll inside their own box
        box = page.evaluate(
            "() => { const el = document.querySelector('#monitor-partners');"
            " return [el.scrollWidth, el.clientWidth, getComputedStyle(el).overflowX]; }"
        )
        assert box[2] == "auto" and box[1] <= PHONE["width"]
    page.close()


SCREEN_PARTS = {
    "screen title": "#screen-title",
    "card label": ".lt-screen-label",
    "card value": ".lt-screen-value",
    "peak time": "#screen-peak-at",
    "partner": ".lt-chip",
    **CHARTS,
}


@pytest.mark.parametrize(
    ("viewport", "lang", "shot"),
    [(SCREEN, "zh", "screen.png"), (WALL, "en", None), (WALL, "zh", None)],
)
def test_the_big_screen_fills_the_wall_without_scrolling_or_overlap(
    stack: Stack, carnival, browser, tmp_path, viewport, lang, shot
):
    page = open_page(
        browser, stack, carnival["token"], f"/screen?lang={lang}&stream={STREAM}", viewport
    )
    wait_for_numbers(page, "#screen-total-concurrent")
    wait_for_charts(page, len(PARTNERS) + 1)
    size = overflow(page)
    assert size["scrollWidth"] <= size["innerWidth"], size
    assert size["scrollHeight"] <= size["innerHeight"], size
    found = assert_no_overlaps(page, SCREEN_PARTS)
    assert set(SCREEN_PARTS) <= set(found["names"]), found["names"]
    # Everything named is on the wall, not cut off below it.
    lowest = page.evaluate(
        "(sels) => Math.max(...sels.flatMap((s) => [...document.querySelectorAll(s)])"
        ".map((el) => el.getBoundingClientRect().bottom))",
        list(SCREEN_PARTS.values()),
    )
    assert lowest <= viewport["height"]
    # The wall shows no navigation or language toggle; the language comes from ?lang=.
    assert not page.locator(".lt-nav").is_visible()
    assert not page.locator("#app-lang-toggle").is_visible()
    label = page.inner_text("#screen-label-concurrent")
    assert ("oncurrent" in label) == (lang == "en")
    assert page.inner_text("#screen-title") == TITLE
    # The big numbers fill their share of the wall: they scale with it.
    height = page.evaluate(
        "() => document.querySelector('#screen-total-concurrent').getBoundingClientRect().height"
    )
    assert height >= viewport["height"] * 0.08
    if shot:
        page.screenshot(path=str(shots_dir(tmp_path) / shot))
    page.close()


def changed_number_animates(page, carnival) -> bool:
    """Grow the audience and report whether the changed big number was animated."""
    page.evaluate(
        "() => { window.__ltAnimated = false;"
        " const el = document.querySelector('#screen-total-concurrent');"
        " new MutationObserver(() => { requestAnimationFrame(() => {"
        "   if (el.getAnimations({subtree: true}).length) window.__ltAnimated = true; }); })"
        ".observe(el, {childList: true, characterData: true, subtree: true,"
        " attributes: true}); }"
    )
    before = page.inner_text("#screen-total-concurrent")
    carnival["feeder"].grow(3_000)
    page.wait_for_function(
        "(b) => document.querySelector('#screen-total-concurrent').innerText !== b",
        arg=before,
        timeout=30_000,
    )
    page.wait_for_timeout(300)
    return bool(page.evaluate("() => window.__ltAnimated"))


def test_a_changed_number_on_the_big_screen_animates(stack: Stack, carnival, browser):
    page = open_page(browser, stack, carnival["token"], f"/screen?stream={STREAM}", SCREEN)
    wait_for_numbers(page, "#screen-total-concurrent")
    assert changed_number_animates(page, carnival)
    page.close()


def test_the_big_screen_keeps_still_for_reduced_motion(stack: Stack, carnival, browser):
    page = open_page(
        browser, stack, carnival["token"], f"/screen?stream={STREAM}", SCREEN,
        reduced_motion="reduce",
    )  # fmt: skip
    wait_for_numbers(page, "#screen-total-concurrent")
    assert not changed_number_animates(page, carnival)
    page.close()
