"""The carnival demo: start every service and replay the 2024 audience through ingest."""

from __future__ import annotations

import secrets

from contract.registry import new_secret
from contract.settings import Settings

__all__ = ["dashboard_link", "start_demo"]


def dashboard_link(base_url: str, token: str) -> str:
    """The dashboard address that signs in with ``token``."""
    return f"{base_url.rstrip('/')}/?token={token}"


def start_demo(settings: Settings, *, speed: float, scale: float) -> None:
    """Start Kafka and the services, create an admin token, start the replay in the background.

    Returns once the replay is running; prints the dashboard link and how to stop.
    """
    from dashboard.config import DashboardConfig
    from livetally import admin, processes
    from livetally.exceptions import LivetallyError

    if not speed > 0:
        raise LivetallyError(f"--speed must be a positive number, got {speed}")
    if not scale > 0:
        raise LivetallyError(f"--scale must be a positive number, got {scale}")
    processes.up(settings)
    token = new_secret("ltt")
    admin.register(
        settings,
        admin.build_token("admin", secret=token, token_id=secrets.token_hex(4), name="demo"),
    )
    processes.start_replay(settings, speed, scale)
    link = dashboard_link(DashboardConfig.from_env().base_url, token)
    print()
    print(f"The carnival is replaying at {speed:g}x speed, scale {scale:g}.")
    print("Open the dashboard (this link signs you in as admin):")
    print(f"  {link}")
    print("Progress: `livetally status`. Stop everything: `livetally down`.")
