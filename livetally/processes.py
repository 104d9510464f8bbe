"""The background services ``livetally up`` runs: worker, ingest, dashboard, replay."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from contract.settings import Settings
from livetally import kafka_cluster, pidfiles
from livetally.exceptions import LivetallyError, ProcessFailed

__all__ = [
    "SERVICES",
    "Service",
    "ServiceName",
    "default_services",
    "down",
    "is_running",
    "start_replay",
    "status",
    "up",
]

ServiceName = Literal["worker", "ingest", "dashboard", "replay"]
SERVICES: tuple[ServiceName, ...] = ("worker", "ingest", "dashboard", "replay")
"""Every managed service, in start order; ``down`` stops them in reverse."""
_UP: tuple[ServiceName, ...] = ("worker", "ingest", "dashboard")

HEALTH_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
_OWNER_MARKER = "livetally"


@dataclass(frozen=True)
class Service:
    """How to start one service and how to tell it is healthy."""

    name: str
    argv: tuple[str, ...]
    """The command; it must mention ``livetally`` so its pid can be recognised as ours."""
    healthy: Callable[[], bool]
    """True when the service answers (called repeatedly while waiting)."""
    url: str = ""
    """Shown to the user once the service is up ('' for none)."""


def _http_ok(url: str) -> Callable[[], bool]:
    """A check that GETs ``url`` and is True on 200 (polled, so httpx's request log is muted)."""

    def check() -> bool:
        import httpx

        client_logger = logging.getLogger("httpx")
        level = client_logger.level
        client_logger.setLevel(logging.WARNING)
        try:
            return httpx.get(url, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False
        finally:
            client_logger.setLevel(level)

    return check


def _serve_argv(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "livetally", "serve", *args)


def default_services() -> dict[str, Service]:
    """worker, ingest and dashboard as ``livetally serve ...`` with their health URLs."""
    from dashboard.config import DashboardConfig
    from ingest.config import IngestConfig
    from stream.config import StreamConfig

    worker = StreamConfig.from_env()
    ingest = IngestConfig.from_env()
    dashboard = DashboardConfig.from_env()
    return {
        "worker": Service(
            "worker", _serve_argv("worker"), _http_ok(worker.health_url), worker.health_url
        ),
        "ingest": Service(
            "ingest",
            _serve_argv("ingest"),
            _http_ok(f"{ingest.base_url}/healthz"),
            ingest.base_url,
        ),
        "dashboard": Service(
            "dashboard",
            _serve_argv("dashboard"),
            _http_ok(f"{dashboard.base_url}/healthz"),
            dashboard.base_url,
        ),
    }


# --- paths and state ------------------------------------------------------------------


def _pid_path(settings: Settings, name: str) -> Path:
    return settings.home / "run" / f"{name}.pid"


def _log_path(settings: Settings, name: str) -> Path:
    return settings.home / "logs" / f"{name}.log"


def _replay_progress_path(settings: Settings) -> Path:
    return settings.home / "run" / "replay.json"


def _pid(settings: Settings, name: str) -> int | None:
    return pidfiles.owned_pid(_pid_path(settings, name), [_OWNER_MARKER])


def is_running(settings: Settings, name: str) -> bool:
    """True when the service ``name`` was started by livetally and is still alive."""
    return _pid(settings, name) is not None


# --- starting -------------------------------------------------------------------------


def _start_service(settings: Settings, service: Service) -> int | None:
    """Start ``service`` unless it runs already; return the new pid (None if it was running)."""
    if _pid(settings, service.name) is not None:
        return None
    _pid_path(settings, service.name).unlink(missing_ok=True)  # stale: its process is gone
    # The home is passed on explicitly: the CLI may have found it from the checkout
    # rather than from the environment, and a service must use the same one.
    return pidfiles.spawn(
        service.argv,
        log_path=_log_path(settings, service.name),
        pid_path=_pid_path(settings, service.name),
        env={**os.environ, "LIVETALLY_HOME": str(settings.home)},
    )


def _wait_healthy(settings: Settings, service: Service, timeout_s: float) -> None:
    """Wait until ``service`` answers; raise ProcessFailed with its log if it dies or hangs."""
    deadline = time.monotonic() + timeout_s
    log = _log_path(settings, service.name)
    spawned = pidfiles.read_pid(_pid_path(settings, service.name))
    while True:
        # Our own child is asked directly: the ownership check behind ``_pid`` reads /proc
        # and once missed a live child that had just started (CI, 29 Nov 2026).
        if _pid(settings, service.name) is None and not (
            spawned is not None and pidfiles.spawned_and_running(spawned)
        ):
            raise ProcessFailed(
                f"{service.name} exited before it became healthy; last lines of {log}:\n"
                f"{pidfiles.tail(log)}"
            )
        if service.healthy():
            return
        if time.monotonic() >= deadline:
            raise ProcessFailed(
                f"{service.name} did not become healthy within {timeout_s:.0f} s"
                f"{f' ({service.url})' if service.url else ''}; last lines of {log}:\n"
                f"{pidfiles.tail(log)}"
            )
        time.sleep(0.25)


def prepare_kafka(
    settings: Settings, *, brokers: int | None = None, secure: bool = False
) -> Settings:
    """Make sure Kafka answers and the topics exist; return ``settings`` with the secured
    local cluster's admin credentials when the cluster is (or was just made) secure.

    ``brokers`` and ``secure`` choose how a local cluster that is not running yet starts.
    """
    from contract.topics import ensure_topics

    started: kafka_cluster.Started | None
    if settings.kafka.external or (brokers is None and not secure):
        started = kafka_cluster.ensure_running(settings)
    else:
        started = kafka_cluster.start(
            settings, brokers=brokers or kafka_cluster.local_size(settings) or 1, secure=secure
        )
    if started is not None and not started.already_running:
        print(started)
    settings = settings.with_home_credentials("admin")
    size = None if settings.kafka.external else kafka_cluster.local_size(settings)
    if size == 3 and settings.kafka.replication_factor == 1:
        # Three local nodes are for trying failures: give the topics three copies.
        settings = replace(settings, kafka=replace(settings.kafka, replication_factor=3))
    created = ensure_topics(settings.kafka)
    if created:
        print(f"Created topics: {', '.join(created)}")
    return settings


def _up(
    settings: Settings,
    services: Mapping[str, Service],
    *,
    timeout_s: float = HEALTH_TIMEOUT_S,
    brokers: int | None = None,
    secure: bool = False,
) -> Settings:
    """Start Kafka and each of ``services`` that is not running; wait until all are healthy.

    Returns the settings the CLI goes on with (see ``prepare_kafka``)."""
    settings = prepare_kafka(settings, brokers=brokers, secure=secure)
    started: list[Service] = []
    for service in services.values():
        pid = _start_service(settings, service)
        if pid is None:
            print(f"{service.name:<10} already running (pid {_pid(settings, service.name)})")
        else:
            started.append(service)
    for service in services.values():
        try:
            _wait_healthy(settings, service, timeout_s)
        except ProcessFailed:
            # A service that hangs unhealthy would otherwise count as running next time.
            _stop_service(settings, service.name)
            raise
        note = "started" if service in started else "running"
        where = f"  {service.url}" if service.url else ""
        print(f"{service.name:<10} {note}, healthy{where}")
    print(f"Logs: {settings.home / 'logs'}; stop everything with `livetally down`.")
    return settings


def up(settings: Settings, *, brokers: int | None = None, secure: bool = False) -> Settings:
    """Start Kafka (unless external), create the topics, then worker, ingest and dashboard.

    Returns the settings to go on with: with the admin user's credentials when the local
    cluster is secure."""
    return _up(settings, default_services(), brokers=brokers, secure=secure)


def start_replay(settings: Settings, speed: float, scale: float) -> None:
    """Start the carnival replay in the background (``livetally serve replay``)."""
    if not speed > 0:
        raise LivetallyError(f"--speed must be a positive number, got {speed}")
    if not scale > 0:
        raise LivetallyError(f"--scale must be a positive number, got {scale}")
    argv = _serve_argv("replay", "--speed", repr(float(speed)), "--scale", repr(float(scale)))
    _start_replay(settings, argv)


def _start_replay(settings: Settings, argv: tuple[str, ...], settle_s: float = 1.0) -> None:
    running = _pid(settings, "replay")
    if running is not None:
        print(f"The replay is already running (pid {running}); `livetally down` stops it.")
        return
    _replay_progress_path(settings).unlink(missing_ok=True)
    service = Service("replay", argv, lambda: True)
    pid = _start_service(settings, service)
    time.sleep(settle_s)  # a replay that cannot start fails at once; let it
    if _pid(settings, "replay") is None:
        log = _log_path(settings, "replay")
        raise ProcessFailed(
            f"the replay exited at once; last lines of {log}:\n{pidfiles.tail(log)}"
        )
    print(f"replay     started (pid {pid}); progress in {_replay_progress_path(settings)}")


# --- stopping -------------------------------------------------------------------------


def _stop_service(settings: Settings, name: str) -> bool:
    """Stop one service if livetally runs it; return True when something was stopped."""
    pid_path = _pid_path(settings, name)
    pid = _pid(settings, name)
    stopped = False
    if pid is not None:
        killed = pidfiles.terminate_group([pid], STOP_TIMEOUT_S)
        note = " (killed after not stopping in time)" if killed else ""
        print(f"{name:<10} stopped (pid {pid}){note}")
        stopped = True
    pid_path.unlink(missing_ok=True)
    return stopped


def _down(settings: Settings, names: tuple[str, ...], *, kafka: bool = True) -> None:
    for name in names:
        _stop_service(settings, name)
    if kafka and not settings.kafka.external:
        print(kafka_cluster.stop(settings))


def down(settings: Settings) -> None:
    """Stop replay, dashboard, ingest, worker, then the local Kafka if livetally started it."""
    _down(settings, tuple(reversed(SERVICES)))


# --- status ---------------------------------------------------------------------------


def _replay_summary(settings: Settings) -> str:
    path = _replay_progress_path(settings)
    try:
        progress = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ""
    except (OSError, ValueError) as exc:
        return f"Replay progress unreadable ({path}: {exc})"
    if not isinstance(progress, dict):
        return f"Replay progress: {progress!r}"[:200]
    parts = [
        f"{key}={value}"
        for key, value in progress.items()
        if isinstance(value, str | int | float | bool) or value is None
    ]
    return "Replay progress: " + ", ".join(parts[:10])


def _status(settings: Settings, services: Mapping[str, Service]) -> str:
    rows = [("NAME", "PID", "STATE", "HEALTH", "LOG")]
    for name in SERVICES:
        service = services.get(name)
        pid = _pid(settings, name)
        if pid is None:
            state, health = "stopped", "-"
        else:
            state = "running"
            healthy = service.healthy() if service is not None else True
            health = "healthy" if healthy else "unhealthy"
        log = _log_path(settings, name)
        rows.append((name, str(pid or "-"), state, health, str(log) if log.exists() else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in rows
    ]
    summary = _replay_summary(settings)
    if summary:
        lines.append(summary)
    lines.append(kafka_cluster.status(settings))
    return "\n".join(lines)


def status(settings: Settings) -> str:
    """A table of the services (pid, running, healthy, log) followed by Kafka's status."""
    return _status(settings, default_services())
