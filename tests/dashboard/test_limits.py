"""Costly reads (exports, reports) are limited per token and in all."""

from __future__ import annotations

import hashlib
import threading

import pytest

from contract.registry import Registry, Token, hash_secret
from dashboard.api import SLOTS_EXTENSION
from dashboard.app import create_app
from dashboard.config import DashboardConfig
from dashboard.data import StaticData
from dashboard.exceptions import TooManyRequests
from dashboard.limits import EXPORT_RETRY_AFTER_S, ExportSlots
from tests.dashboard.builders import VIEWER_TOKEN, build, registry

OTHER_TOKEN = "tok_other_secret"


def holder(token: str) -> str:
    """The limits' key of a token: a digest of its registry id, never of the secret."""
    found = registry().token_for(token, 0)
    assert found is not None
    return hashlib.sha256(found.id.encode()).hexdigest()[:16]


def test_slots_per_holder_and_in_all():
    slots = ExportSlots(per_token=2, total=3)
    assert slots.try_acquire("a") and slots.try_acquire("a")
    assert not slots.try_acquire("a")  # its own limit
    assert slots.try_acquire("b")
    assert not slots.try_acquire("c")  # the shared limit
    slots.release("a")
    assert slots.try_acquire("c")
    assert slots.in_use() == 3


def test_releasing_a_slot_not_held_is_a_programming_error():
    with pytest.raises(ValueError):
        ExportSlots(1, 1).release("a")
    with pytest.raises(ValueError):
        ExportSlots(0, 1)


def test_a_slot_is_given_back_when_the_block_fails():
    slots = ExportSlots(per_token=1, total=1)
    with pytest.raises(RuntimeError), slots.slot("a"):
        raise RuntimeError("export failed")
    assert slots.in_use() == 0
    with slots.slot("a"), pytest.raises(TooManyRequests) as refused:
        with slots.slot("a"):
            pass
    assert refused.value.retry_after_s == EXPORT_RETRY_AFTER_S


def test_slots_are_safe_across_threads():
    slots = ExportSlots(per_token=5, total=5)
    taken = []

    def take():
        taken.append(slots.try_acquire("a"))

    threads = [threading.Thread(target=take) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert taken.count(True) == 5 and slots.in_use() == 5


@pytest.fixture
def app():
    reg = Registry.of(
        [
            *registry().streams.values(),
            *registry().tokens.values(),
            Token("t2", "viewer", "other", hash_secret(OTHER_TOKEN)),
        ]
    )
    config = DashboardConfig(exports_per_token=1, exports_total=2)
    return create_app(config, data=StaticData(build([], reg=reg)))


@pytest.mark.parametrize("path", ["export?format=csv", "report?lang=en"])
def test_a_token_over_its_limit_gets_429_with_retry_after(app, path):
    slots = app.server.extensions[SLOTS_EXTENSION]
    client = app.server.test_client()
    url = f"/api/v1/streams/carnival/{path}"
    assert slots.try_acquire(holder(VIEWER_TOKEN))  # an export of this token in progress
    busy = client.get(url, headers={"Authorization": f"Bearer {VIEWER_TOKEN}"})
    assert busy.status_code == 429
    assert busy.headers["Retry-After"] == str(EXPORT_RETRY_AFTER_S)
    assert busy.mimetype == "application/problem+json"
    other = client.get(url, headers={"Authorization": f"Bearer {OTHER_TOKEN}"})
    assert other.status_code == 200
    assert slots.in_use() == 1  # the finished request gave its slot back
    slots.release(holder(VIEWER_TOKEN))
    again = client.get(url, headers={"Authorization": f"Bearer {VIEWER_TOKEN}"})
    assert again.status_code == 200


def test_the_shared_limit_applies_to_every_token(app):
    slots = app.server.extensions[SLOTS_EXTENSION]
    assert slots.try_acquire("x") and slots.try_acquire("y")
    response = app.server.test_client().get(
        "/api/v1/streams/carnival/export", headers={"Authorization": f"Bearer {OTHER_TOKEN}"}
    )
    assert response.status_code == 429


def test_export_limits_must_be_at_least_one():
    with pytest.raises(ValueError, match="EXPORTS_PER_TOKEN"):
        DashboardConfig(exports_per_token=0)
    config = DashboardConfig.from_env(
        {"LIVETALLY_DASHBOARD_EXPORTS_PER_TOKEN": "3", "LIVETALLY_DASHBOARD_EXPORTS_TOTAL": "9"}
    )
    assert (config.exports_per_token, config.exports_total) == (3, 9)
