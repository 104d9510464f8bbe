"""Settings of the Faust stream worker."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from contract.settings import Settings, SettingsError, read_float, read_int
from stream.allocator import MAX_MMAP_THRESHOLD

__all__ = ["DEFAULT_MILESTONES", "StreamConfig", "parse_milestones"]

_ALERT_URLS = {
    "alert_webhook": "LIVETALLY_ALERT_WEBHOOK",
    "alert_wecom_webhook": "LIVETALLY_ALERT_WECOM_WEBHOOK",
    "alert_dingtalk_webhook": "LIVETALLY_ALERT_DINGTALK_WEBHOOK",
    "alert_feishu_webhook": "LIVETALLY_ALERT_FEISHU_WEBHOOK",
    "dashboard_url": "LIVETALLY_DASHBOARD_URL",
}
_ALERT_SECRETS = {
    "alert_webhook_secret": ("LIVETALLY_ALERT_WEBHOOK_SECRET", "alert_webhook"),
    "alert_dingtalk_secret": ("LIVETALLY_ALERT_DINGTALK_SECRET", "alert_dingtalk_webhook"),
    "alert_feishu_secret": ("LIVETALLY_ALERT_FEISHU_SECRET", "alert_feishu_webhook"),
}

DEFAULT_MILESTONES = "every:100000,1000000"


def _read_float(environ: Mapping[str, str], name: str, default: float) -> float:
    value = read_float(environ, name, default)
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {environ.get(name)!r}")
    return value


def parse_milestones(text: str) -> tuple[int, tuple[int, ...]]:
    """Parse ``LIVETALLY_MILESTONES``: ``every:N`` and/or single view counts, comma-separated.

    Returns (every, extra milestones); ``every`` is 0 when not given.
    """
    every = 0
    extra: list[int] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        number = item.removeprefix("every:")
        try:
            value = int(number.replace("_", ""))
        except ValueError:
            raise ValueError(
                f"LIVETALLY_MILESTONES item {item!r} must be a view count or every:N"
            ) from None
        if value <= 0:
            raise ValueError(f"LIVETALLY_MILESTONES item {item!r} must be positive")
        if item.startswith("every:"):
            every = value
        else:
            extra.append(value)
    return every, tuple(sorted(set(extra)))


@dataclass(frozen=True)
class StreamConfig:
    """Everything the worker needs, read once from the environment."""

    shared: Settings = field(default_factory=Settings)
    """Home directory and Kafka cluster."""
    app_id: str = "livetally-stream"
    """Faust app id, also the Kafka consumer group (``LIVETALLY_STREAM_APP_ID``)."""
    web_port: int = 6066
    """Port of the worker's health page (``LIVETALLY_WORKER_PORT``)."""
    flush_interval_s: float = 0.25
    """How often changed per-second chunks are published while the worker keeps up
    (``LIVETALLY_FLUSH_INTERVAL_S``)."""
    flush_max_interval_s: float = 2.0
    """Longest time between two publishes while the worker catches up
    (``LIVETALLY_FLUSH_MAX_INTERVAL_S``; by default 2 s, or the flush interval if longer)."""
    session_timeout_s: float = 20.0
    """Kafka consumer-group session timeout: how soon a dead worker's partitions move
    (``LIVETALLY_SESSION_TIMEOUT_S``)."""
    checkpoint_interval_s: float = 30.0
    """Least time between two checkpoints of a partition (``LIVETALLY_CHECKPOINT_INTERVAL_S``)."""
    checkpoint_min_records: int = 1000
    """Records a partition must have taken since its last checkpoint before the next one
    (``LIVETALLY_CHECKPOINT_MIN_RECORDS``)."""
    checkpoint_chunk_bytes: int = 4 * 1024 * 1024
    """Largest checkpoint record (``LIVETALLY_CHECKPOINT_CHUNK_BYTES``)."""
    mmap_threshold_bytes: int = 64 * 1024
    """glibc's mmap threshold, fixed at start (``LIVETALLY_MMAP_THRESHOLD_BYTES``; 0 keeps
    glibc's own, which rises with the buffers freed): ``stream/allocator.py``."""
    metrics_interval_s: float = 2.0
    """How often pipeline metrics are published and alerts evaluated."""
    alert_webhook: str | None = field(default=None, repr=False)
    """URL each alert is POSTed to as JSON (``LIVETALLY_ALERT_WEBHOOK``)."""
    alert_webhook_secret: str | None = field(default=None, repr=False)
    """Key of the webhook's ``X-Livetally-Signature`` HMAC (``LIVETALLY_ALERT_WEBHOOK_SECRET``)."""
    alert_wecom_webhook: str | None = field(default=None, repr=False)
    """WeCom group bot webhook, with its key (``LIVETALLY_ALERT_WECOM_WEBHOOK``)."""
    alert_dingtalk_webhook: str | None = field(default=None, repr=False)
    """DingTalk group bot webhook, with its token (``LIVETALLY_ALERT_DINGTALK_WEBHOOK``)."""
    alert_dingtalk_secret: str | None = field(default=None, repr=False)
    """The DingTalk bot's signing secret, ``SEC...`` (``LIVETALLY_ALERT_DINGTALK_SECRET``)."""
    alert_feishu_webhook: str | None = field(default=None, repr=False)
    """Feishu group bot webhook (``LIVETALLY_ALERT_FEISHU_WEBHOOK``)."""
    alert_feishu_secret: str | None = field(default=None, repr=False)
    """The Feishu bot's signing secret (``LIVETALLY_ALERT_FEISHU_SECRET``)."""
    alert_lang: Literal["zh", "en"] = "zh"
    """Language of the bots' messages (``LIVETALLY_ALERT_LANG``: zh or en)."""
    dashboard_url: str | None = None
    """The dashboard's public base URL, linked from the bots' messages
    (``LIVETALLY_DASHBOARD_URL``, e.g. ``https://tally.example.com``)."""
    milestones: str = DEFAULT_MILESTONES
    """View milestones raising an alert (``LIVETALLY_MILESTONES``: ``every:100000,1000000``)."""
    drop_ratio: float = 0.30
    """A fall of concurrency by at least this share within ``drop_window_s`` is an alert."""
    drop_window_s: int = 60
    """The window the drop is measured over (current second vs the maximum before it)."""
    drop_min_viewers: int = 50
    """Drops from a maximum below this many viewers are ignored as noise."""

    @property
    def health_url(self) -> str:
        """Where the worker answers when it is up."""
        return f"http://127.0.0.1:{self.web_port}/healthz"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StreamConfig:
        """Read the configuration from ``LIVETALLY_*`` variables."""
        env = os.environ if environ is None else environ
        milestones = env.get("LIVETALLY_MILESTONES", "").strip() or DEFAULT_MILESTONES
        try:  # refuse a bad value at start, naming the variable
            parse_milestones(milestones)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        chunk_bytes = read_int(env, "LIVETALLY_CHECKPOINT_CHUNK_BYTES", 4 * 1024 * 1024)
        if not 1024 <= chunk_bytes <= 15 * 1024 * 1024:
            raise SettingsError("LIVETALLY_CHECKPOINT_CHUNK_BYTES must be between 1 KiB and 15 MiB")
        flush = _read_float(env, "LIVETALLY_FLUSH_INTERVAL_S", 0.25)
        flush_max = _read_float(env, "LIVETALLY_FLUSH_MAX_INTERVAL_S", max(2.0, flush))
        if flush_max < flush:
            raise SettingsError(
                f"LIVETALLY_FLUSH_MAX_INTERVAL_S ({flush_max:g} s) must not be shorter than "
                f"LIVETALLY_FLUSH_INTERVAL_S ({flush:g} s)"
            )
        mmap_threshold = read_int(env, "LIVETALLY_MMAP_THRESHOLD_BYTES", 64 * 1024)
        if not 0 <= mmap_threshold <= MAX_MMAP_THRESHOLD:
            raise SettingsError("LIVETALLY_MMAP_THRESHOLD_BYTES must be 0 (glibc's) to 32 MiB")
        alerting = _alert_settings(env)
        return cls(
            shared=Settings.from_env(env, service="worker"),
            app_id=env.get("LIVETALLY_STREAM_APP_ID", "livetally-stream"),
            web_port=read_int(env, "LIVETALLY_WORKER_PORT", 6066),
            flush_interval_s=flush,
            flush_max_interval_s=flush_max,
            session_timeout_s=_read_float(env, "LIVETALLY_SESSION_TIMEOUT_S", 20.0),
            checkpoint_interval_s=_read_float(env, "LIVETALLY_CHECKPOINT_INTERVAL_S", 30.0),
            checkpoint_min_records=read_int(env, "LIVETALLY_CHECKPOINT_MIN_RECORDS", 1000),
            checkpoint_chunk_bytes=chunk_bytes,
            mmap_threshold_bytes=mmap_threshold,
            milestones=milestones,
            **alerting,  # type: ignore[arg-type]  # the names and types checked there
        )


def _alert_settings(env: Mapping[str, str]) -> dict[str, str | None]:
    """The alert channels' settings by field name; a URL must be http(s), a secret needs
    its URL, the language is zh or en."""
    found: dict[str, str | None] = {}
    for name, variable in _ALERT_URLS.items():
        url = env.get(variable, "").strip() or None
        if url is not None and not url.startswith(("https://", "http://")):
            raise SettingsError(f"{variable} must be an http:// or https:// URL")
        found[name] = url
    for name, (variable, url_field) in _ALERT_SECRETS.items():
        secret = env.get(variable, "").strip() or None
        if secret is not None and found[url_field] is None:
            raise SettingsError(f"{variable} is set but {_ALERT_URLS[url_field]} is not")
        found[name] = secret
    lang = env.get("LIVETALLY_ALERT_LANG", "").strip().lower() or "zh"
    if lang not in ("zh", "en"):
        raise SettingsError(f"LIVETALLY_ALERT_LANG must be zh or en, got {lang!r}")
    found["alert_lang"] = lang
    return found
