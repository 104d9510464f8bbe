"""The demo entry point's own checks and output."""

from __future__ import annotations

import pytest

from contract.settings import Settings
from livetally.demo import dashboard_link, start_demo
from livetally.exceptions import LivetallyError


def test_dashboard_link_carries_the_token():
    link = dashboard_link("http://127.0.0.1:8050/", "ltt_abc")
    assert link == "http://127.0.0.1:8050/?token=ltt_abc"


@pytest.mark.parametrize(("speed", "scale"), [(0, 1), (-2, 1), (1, 0), (1, float("nan"))])
def test_bad_speed_or_scale_is_refused_before_anything_starts(tmp_path, speed, scale):
    with pytest.raises(LivetallyError, match="positive number"):
        start_demo(Settings(home=tmp_path), speed=speed, scale=scale)
    assert not any(tmp_path.iterdir())
