"""Shared fixtures of the ingest tests: an app on a stand-in sink and a static registry."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from contract.settings import KafkaSettings, Settings
from ingest.app import create_app
from ingest.config import IngestConfig

from .helpers import AcknowledgingSink, StaticRegistry, make_registry


@pytest.fixture
def config() -> IngestConfig:
    return IngestConfig(shared=Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1")))


@pytest.fixture
def sink() -> AcknowledgingSink:
    return AcknowledgingSink()


@pytest.fixture
def client(config, sink) -> TestClient:
    app = create_app(config, producer=sink, registry=StaticRegistry(make_registry()))
    return TestClient(app, raise_server_exceptions=True)
