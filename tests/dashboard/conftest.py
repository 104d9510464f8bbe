"""Fixtures for dashboard tests."""

from __future__ import annotations

import pytest

from dashboard.config import DashboardConfig
from dashboard.data import StaticData
from dashboard.model import Snapshot
from tests.dashboard.builders import T0, build, chunk, stats


@pytest.fixture
def sample_snapshot() -> Snapshot:
    """douyin on two partitions and bili on one, within one minute."""
    return build(
        [
            chunk("douyin", 0, {T0: (3, 3, 2), T0 + 5: (-1, 0, 0)}),
            chunk("douyin", 1, {T0 + 2: (4, 4, 4), T0 + 10: (-2, 1, 1)}),
            chunk("bili", 0, {T0 + 1: (5, 5, 5), T0 + 20: (-5, 0, 0)}),
        ],
        stats=[
            stats("douyin", 0, arrival=(T0 + 10) * 1000, event=(T0 + 9) * 1000, events=5),
            stats("douyin", 1, arrival=(T0 + 12) * 1000, event=(T0 + 11) * 1000, events=7),
            stats("bili", 0, arrival=(T0 + 20) * 1000, event=(T0 + 20) * 1000, events=6),
        ],
    )


@pytest.fixture
def config() -> DashboardConfig:
    return DashboardConfig(secret_key="test-session-key-0123456789")


@pytest.fixture
def app_and_data(config, sample_snapshot):
    from dashboard.app import create_app

    data = StaticData(sample_snapshot)
    return create_app(config, data=data), data
