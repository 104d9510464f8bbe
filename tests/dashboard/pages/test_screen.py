"""The big-screen page's callbacks: big numbers, partner chips and the dark chart."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from tests.dashboard.builders import T0, texts


def test_screen_shows_big_numbers_and_partner_names(pages, sample_snapshot):
    _, screen, _ = pages
    out = screen.screen_outputs(sample_snapshot, "carnival", "en", (T0 + 3) * 1000)
    assert out[0] == "成都第八届社区邻里节"
    assert out[4:7] == ("12", "12", "12")
    names = [texts(chip)[0] for chip in out[8]]
    assert names == ["Douyin", "Bilibili", "Quiet TV"]  # by concurrent: 7, 5, 0
    figure, _ = screen.refresh_screen_chart(1, "carnival", "en", None)
    assert go.Figure(figure).layout.paper_bgcolor == "#05070d"


def test_the_links_language_and_stream_win_over_the_shells(pages):
    _, screen, _ = pages
    assert screen.screen_choice({"lang": "en", "stream": "gala"}, "carnival", "zh") == (
        "gala",
        "en",
    )
    assert screen.screen_choice({"lang": None, "stream": None}, "carnival", "zh") == (
        "carnival",
        "zh",
    )
    assert screen.screen_choice({"lang": "fr", "stream": 7}, None, "en") == (None, "en")
    assert screen.screen_choice(None, None, None) == (None, None)
    children = screen.layout(lang="en", stream="gala").children
    store = [c for c in children if getattr(c, "id", None) == "screen-query"]
    assert store[0].data == {"lang": "en", "stream": "gala"}


@pytest.mark.parametrize(
    ("value", "lang", "shown"),
    [
        (9_999_999, "en", "9,999,999"),
        (10_000_000, "en", "10.0M"),  # eight digits and separators fill a third of the wall
        (123_456_789, "en", "123.4M"),
        (123_456_789, "zh", "1.2亿"),
        (99_999_999, "zh", "9999.9万"),
    ],
)
def test_big_screen_numbers_keep_to_a_third_of_the_wall(pages, value, lang, shown):
    _, screen, _ = pages
    assert screen.screen_number(value, lang) == shown
