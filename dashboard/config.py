"""Settings of the dashboard service."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from contract.settings import KafkaSettings, Settings, SettingsError, read_float, read_int
from dashboard.proxies import parse_networks

__all__ = ["DashboardConfig"]


@dataclass(frozen=True)
class DashboardConfig:
    """Everything the dashboard needs, read once from the environment."""

    shared: Settings = field(default_factory=Settings)
    """Home directory and Kafka cluster, as the dashboard's (read-only) Kafka user."""
    registry_kafka: KafkaSettings | None = None
    """The Kafka identity ``/admin`` writes the registry with: a user that may write the
    registry topic and nothing else, since the dashboard's own user may only read. On a
    secured local cluster ``livetally-registrar`` from its credentials file; configured by
    environment, ``LIVETALLY_REGISTRAR_KAFKA_USERNAME`` and its password when set;
    otherwise the same as ``shared.kafka``."""
    host: str = "127.0.0.1"
    """Interface to listen on (``LIVETALLY_DASHBOARD_HOST``)."""
    port: int = 8050
    """Port to listen on (``LIVETALLY_DASHBOARD_PORT``)."""
    public_port: int = 8051
    """Port of the public live counter and embed widget for news sites, on the same
    interface (``LIVETALLY_PUBLIC_PORT``, by default the dashboard's port + 1; 0: not
    served)."""
    refresh_ms: int = 1000
    """How often pages refresh their numbers."""
    exports_per_token: int = 2
    """Exports and reports one token may have in progress at once
    (``LIVETALLY_DASHBOARD_EXPORTS_PER_TOKEN``); more are answered 429."""
    exports_total: int = 4
    """Exports and reports in progress at once over all tokens
    (``LIVETALLY_DASHBOARD_EXPORTS_TOTAL``)."""
    secret_key: str = ""
    """Key that signs sign-in sessions (``LIVETALLY_SECRET_KEY``, at least 16 characters;
    give every replica behind one load balancer the same). Empty: one is generated once
    under ``$LIVETALLY_HOME/dashboard/secret_key``."""
    session_hours: float = 12.0
    """How long a sign-in lasts (``LIVETALLY_SESSION_HOURS``), at most the token's own life."""
    threads: int = 32
    """Requests served at once (``LIVETALLY_DASHBOARD_THREADS``); more wait in the backlog."""
    max_connections: int = 4096
    """Connections held open at once, idle keep-alive ones included
    (``LIVETALLY_DASHBOARD_MAX_CONNECTIONS``); an open page keeps about three."""
    request_timeout_s: int = 60
    """A request still running after this long has its worker restarted
    (``LIVETALLY_DASHBOARD_TIMEOUT_S``); exports are bounded well below it."""
    trusted_proxies: str = ""
    """Comma-separated addresses or networks of the TLS proxies in front of the dashboard
    (``LIVETALLY_TRUSTED_PROXIES``, e.g. ``127.0.0.1,10.0.0.0/8``). Only requests from them
    may set ``X-Forwarded-Proto``/``-Host``/``-For``, which make cookies ``Secure`` and
    redirects ``https``."""

    def __post_init__(self) -> None:
        if self.exports_per_token < 1 or self.exports_total < 1:
            raise SettingsError(
                "LIVETALLY_DASHBOARD_EXPORTS_PER_TOKEN and LIVETALLY_DASHBOARD_EXPORTS_TOTAL "
                "must be at least 1"
            )
        if not 0 < self.session_hours <= 24 * 365:
            raise SettingsError("LIVETALLY_SESSION_HOURS must be between 0 and 8760")
        if not 1 <= self.threads <= 1024:
            raise SettingsError("LIVETALLY_DASHBOARD_THREADS must be between 1 and 1024")
        if not 16 <= self.max_connections <= 65536:
            raise SettingsError("LIVETALLY_DASHBOARD_MAX_CONNECTIONS must be between 16 and 65536")
        if not 0 <= self.public_port <= 65535 or (
            self.public_port and self.public_port == self.port
        ):
            raise SettingsError(
                "LIVETALLY_PUBLIC_PORT must be 0 (off) or a port other than the dashboard's"
            )
        if self.request_timeout_s < 5:
            raise SettingsError("LIVETALLY_DASHBOARD_TIMEOUT_S must be at least 5")
        if self.secret_key and len(self.secret_key) < 16:
            raise SettingsError("LIVETALLY_SECRET_KEY must be at least 16 characters long")
        parse_networks(self.trusted_proxies)

    @property
    def registry_writer_kafka(self) -> KafkaSettings:
        """Kafka settings of the registry writes ``/admin`` makes."""
        return self.registry_kafka or self.shared.kafka

    @property
    def base_url(self) -> str:
        """The dashboard's address."""
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DashboardConfig:
        """Read the configuration from ``LIVETALLY_*`` variables."""
        env = os.environ if environ is None else environ
        port = read_int(env, "LIVETALLY_DASHBOARD_PORT", 8050)
        return cls(
            shared=Settings.from_env(env, service="dashboard"),
            registry_kafka=Settings.from_env(env, service="registrar").kafka,
            host=env.get("LIVETALLY_DASHBOARD_HOST", "127.0.0.1"),
            port=port,
            public_port=read_int(env, "LIVETALLY_PUBLIC_PORT", port + 1 if port < 65535 else 0),
            exports_per_token=read_int(env, "LIVETALLY_DASHBOARD_EXPORTS_PER_TOKEN", 2),
            exports_total=read_int(env, "LIVETALLY_DASHBOARD_EXPORTS_TOTAL", 4),
            secret_key=env.get("LIVETALLY_SECRET_KEY", "").strip(),
            session_hours=read_float(env, "LIVETALLY_SESSION_HOURS", 12.0),
            threads=read_int(env, "LIVETALLY_DASHBOARD_THREADS", 32),
            max_connections=read_int(env, "LIVETALLY_DASHBOARD_MAX_CONNECTIONS", 4096),
            request_timeout_s=read_int(env, "LIVETALLY_DASHBOARD_TIMEOUT_S", 60),
            trusted_proxies=env.get("LIVETALLY_TRUSTED_PROXIES", "").strip(),
        )
