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


@pytest.mark.integration
def test_the_demo_token_is_kept_and_reused_while_it_is_active(tmp_path, broker):
    import dataclasses
    import stat
    import time
    import uuid

    from contract.registry_store import RegistryStore
    from contract.topics import ensure_topics
    from livetally.demo import demo_token

    kafka = dataclasses.replace(
        broker.settings.kafka, topic_prefix=f"t-demo-{uuid.uuid4().hex[:8]}."
    )
    ensure_topics(kafka)
    settings = Settings(home=tmp_path, kafka=kafka)
    first = demo_token(settings)
    kept = tmp_path / "run" / "demo-admin-token"
    assert kept.read_text().strip() == first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert demo_token(settings) == first  # `make run` again: the same link
    now = int(time.time() * 1000)
    record = RegistryStore(kafka).load().token_for(first, now)
    assert record is not None and record.role == "admin"
    assert 6 * 86400_000 < record.expires_at - now <= 7 * 86400_000
    kept.write_text("ltt_forgotten\n")  # not a token the registry knows: a new one is made
    second = demo_token(settings)
    assert second != first and kept.read_text().strip() == second
