"""The shell's callbacks (language, navigation texts, stream selector) called as functions."""

from __future__ import annotations

import pytest
from dash import no_update
from dash.exceptions import PreventUpdate

from dashboard.app import choose_lang, refresh_streams, shell_mode, shell_texts
from tests.dashboard.builders import T0, build, chunk


def test_language_toggle_and_store_stay_in_step():
    assert choose_lang("app-lang-toggle", "en", "zh") == ("en", no_update)
    assert choose_lang("app-lang", "zh", "en") == (no_update, "en")
    assert choose_lang(None, "zh", None) == (no_update, "zh")  # first visit: Chinese


def test_shell_texts_and_screen_mode():
    assert shell_texts("en")[1:3] == ("Live", "Big screen")
    assert shell_texts(None)[1] == "实时"
    assert "lt-screen-mode" in shell_mode("/screen")
    assert "lt-screen-mode" not in shell_mode("/")


def test_stream_selector_defaults_to_most_recent_and_hides_for_one(pages):
    _, _, data = pages
    data.set(
        build(
            [
                chunk("douyin", 0, {T0: (1, 1, 1)}, stream="carnival"),
                chunk("douyin", 0, {T0 + 900: (1, 1, 1)}, stream="encore"),
            ]
        )
    )
    options, value, style = refresh_streams(1, None, None)
    assert [o["value"] for o in options] == ["encore", "carnival"]
    assert value == "encore" and style == {"display": "block"}
    with pytest.raises(PreventUpdate):
        refresh_streams(2, "encore", options)
    data.set(build([]))
    _, value, style = refresh_streams(3, "encore", options)
    assert value == "carnival" and style == {"display": "none"}


def test_a_link_with_a_stream_opens_on_that_stream_once(pages):
    _, _, data = pages
    data.set(
        build(
            [
                chunk("douyin", 0, {T0: (1, 1, 1)}, stream="carnival"),
                chunk("douyin", 0, {T0 + 900: (1, 1, 1)}, stream="encore"),
            ]
        )
    )
    options, value, _ = refresh_streams(1, None, None, "?stream=carnival&lang=en")
    assert value == "carnival"  # not the most recent one
    _, value, _ = refresh_streams(1, None, None, "?stream=nope")
    assert value == "encore"  # an unknown stream in the link: the default
    _, value, _ = refresh_streams(2, "encore", [], "?stream=carnival")
    assert value == "carnival"
    # Once the selector is filled, the viewer's choice wins over the link.
    with pytest.raises(PreventUpdate):
        refresh_streams(3, "encore", options, "?stream=carnival")
