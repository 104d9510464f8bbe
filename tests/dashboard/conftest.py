"""Fixtures for dashboard tests."""

from __future__ import annotations

import importlib

import pytest

from contract.registry import Registry, Token, hash_secret
from dashboard.config import DashboardConfig
from dashboard.data import StaticData
from dashboard.model import Snapshot
from tests.dashboard.builders import T0, build, chunk, registry, stats
from tests.registry_log import registry_of

ADMIN_TOKEN = "tok_admin_secret"


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


@pytest.fixture
def pages(app_and_data):
    """The page modules as the app loaded them, and the app's Flask context."""
    app, data = app_and_data
    live = importlib.import_module("dashboard.pages.live")
    screen = importlib.import_module("dashboard.pages.screen")
    with app.server.app_context():
        yield live, screen, data


class MemoryRegistry:
    """Stands in for the registry topic: records written, and the registry they make."""

    def __init__(self, base: Registry) -> None:
        self.items = [*base.streams.values(), *base.partners.values(), *base.tokens.values()]

    def put(self, item) -> None:
        self.items.append(item)

    def delete(self, key: str) -> None:
        self.items.append(key)

    def registry(self) -> Registry:
        return registry_of(self.items)


@pytest.fixture
def setup(config):
    """An app whose registry writes land in memory, with an admin token, and that memory."""
    from dashboard.app import create_app

    base = Registry.of(
        [
            *registry().streams.values(),
            *registry().partners.values(),
            *registry().tokens.values(),
            Token("adm", "admin", "ops", hash_secret(ADMIN_TOKEN)),
        ]
    )
    store = MemoryRegistry(base)

    class Data(StaticData):
        def snapshot(self):
            return build([], reg=store.registry())

    app = create_app(config, data=Data(build([], reg=base)), registry_writer=store)
    return app, store
