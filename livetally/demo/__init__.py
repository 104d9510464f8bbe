"""The carnival demo: start every service and replay the 2024 audience through ingest."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from contract.registry import new_secret
from contract.registry_actions import TOKEN_PREFIX
from contract.settings import Settings

__all__ = ["dashboard_link", "demo_token", "start_demo"]


def dashboard_link(base_url: str, token: str) -> str:
    """The dashboard address that signs in with ``token``."""
    return f"{base_url.rstrip('/')}/?token={token}"


DEMO_TOKEN_LIFE = "7d"  # noqa: S105 - a duration, not a secret
"""How long the demo's admin token lasts; ``make run`` reuses it until then."""


def _token_path(settings: Settings) -> Path:
    return settings.home / "run" / "demo-admin-token"


def demo_token(settings: Settings) -> str:
    """The demo's admin token: the one kept under ``home`` while it is still active, else a
    new one (expiring after ``DEMO_TOKEN_LIFE``), kept there with mode 0600."""
    from livetally import admin, registry_topic

    path = _token_path(settings)
    try:
        kept = path.read_text(encoding="ascii").strip()
    except OSError:
        kept = ""
    if kept and registry_topic.load_registry(settings).token_for(kept, int(time.time() * 1000)):
        return kept
    token = new_secret(TOKEN_PREFIX)
    record = admin.build_token(
        "admin", secret=token, token_id=secrets.token_hex(4), name="demo", expires=DEMO_TOKEN_LIFE
    )
    registry_topic.register(settings, record)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
    return token


def start_demo(
    settings: Settings,
    *,
    speed: float,
    scale: float,
    brokers: int | None = None,
    secure: bool = False,
) -> None:
    """Start Kafka and the services, create an admin token, start the replay in the background.

    Returns once the replay is running; prints the dashboard link and how to stop.
    """
    from dashboard.config import DashboardConfig
    from livetally import processes
    from livetally.exceptions import LivetallyError

    if not speed > 0:
        raise LivetallyError(f"--speed must be a positive number, got {speed}")
    if not scale > 0:
        raise LivetallyError(f"--scale must be a positive number, got {scale}")
    settings = processes.up(settings, brokers=brokers, secure=secure)
    token = demo_token(settings)
    processes.start_replay(settings, speed, scale)
    link = dashboard_link(DashboardConfig.from_env().base_url, token)
    print()
    print(f"The carnival is replaying at {speed:g}x speed, scale {scale:g}.")
    print("Open the dashboard (this link signs you in as admin):")
    print(f"  {link}")
    print("Progress: `livetally status`. Stop everything: `livetally down`.")
