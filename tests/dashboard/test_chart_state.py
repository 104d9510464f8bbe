"""The live chart trusts the browser's stored chart state only where it is consistent."""

from __future__ import annotations

import importlib

import pytest
from dash import Patch
from dash.exceptions import PreventUpdate

from tests.dashboard.builders import T0, build, chunk


@pytest.fixture
def live(app_and_data):
    app, _ = app_and_data
    with app.server.app_context():
        yield importlib.import_module("dashboard.pages.live")


@pytest.fixture
def drawn(live, sample_snapshot):
    """Charts drawn at T0 + 5 and the state the page stored with them."""
    _, _, state = live.chart_update(sample_snapshot, None, "en", "lines", None, T0 + 5)
    return state


def later_snapshot():
    return build(
        [
            chunk("douyin", 0, {T0: (3, 3, 2), T0 + 5: (-1, 0, 0), T0 + 7: (2, 2, 2)}),
            chunk("douyin", 1, {T0 + 2: (4, 4, 4), T0 + 10: (-2, 1, 1)}),
            chunk("bili", 0, {T0 + 1: (5, 5, 5), T0 + 20: (-5, 0, 0)}),
        ],
        version=2,
    )


def test_a_consistent_state_is_patched(live, drawn):
    conc, views, state = live.chart_update(later_snapshot(), None, "en", "lines", drawn, T0 + 8)
    assert isinstance(conc, Patch) and isinstance(views, Patch)
    assert state["n"] == drawn["n"] + 3 and state["last"] == T0 + 8


@pytest.mark.parametrize(
    "change",
    [
        {"last": T0 - 5 * 10**8},  # asks for 5e8 buckets
        {"last": T0 + 3, "n": 10**9},  # n inconsistent with last
        {"n": 10**9},
        {"n": 0},
        {"n": -5},
        {"last": T0 + 5.5},
        {"last": "x", "n": "y"},
        {"last": None},
        {"drawn_at": T0 - 10**12},
        {"drawn_at": T0 + 10**12},
        {"drawn_at": "soon"},
        {"key": ["carnival"]},
        {"key": None},
        {"last": 2**70, "n": 2**70},
    ],
)
def test_an_inconsistent_state_gets_a_full_redraw(live, drawn, change):
    state = {**drawn, **change}
    conc, views, new_state = live.chart_update(later_snapshot(), None, "en", "lines", state, T0 + 8)
    assert not isinstance(conc, Patch) and not isinstance(views, Patch)
    assert new_state["drawn_at"] == T0 + 8 and new_state["n"] == 9


def test_an_unchanged_consistent_state_skips_the_update(live, sample_snapshot, drawn):
    with pytest.raises(PreventUpdate):
        live.chart_update(sample_snapshot, None, "en", "lines", drawn, T0 + 5)


def test_a_hostile_state_costs_no_more_than_a_full_redraw(live, drawn):
    """A redraw of a day of data is bounded by CHART_MAX_POINTS, whatever ``last`` says."""
    snapshot = later_snapshot()
    now = T0 + 86_400
    for last in (T0 - 5 * 10**8, T0 - 300_000, 0, -(2**62)):
        _, _, state = live.chart_update(
            snapshot, None, "en", "lines", {**drawn, "last": last, "drawn_at": now}, now
        )
        assert state["n"] <= 1500
