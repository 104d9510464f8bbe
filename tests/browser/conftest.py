"""Shared browser fixtures: one headless Chromium per module, and where screenshots go."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _require_chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("LIVETALLY_REQUIRE_BROWSER"):
        pytest.fail("chromium is required (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


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
    """``LIVETALLY_SCREENSHOTS_DIR`` if set (``docs/screenshots`` for the README), else a
    temporary folder."""
    target = os.environ.get("LIVETALLY_SCREENSHOTS_DIR")
    return Path(target) if target else tmp_path
