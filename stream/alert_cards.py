"""What a chat message about an alert says, before any bot's format. Pure code.

``alert_card`` puts together, in one language, what every bot shows: a heading (level and
kind), the alert's message, the stream's title, the partner's display name, when the
condition began in the stream's time zone, and a link to the dashboard page to look at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from contract.alerts import Alert, AlertKind, AlertLevel
from stream.registry_names import RegistryNames

__all__ = ["AlertCard", "Lang", "alert_card", "dashboard_link"]

Lang = Literal["zh", "en"]

_LEVELS: dict[AlertLevel, tuple[str, str]] = {
    "info": ("提示", "Info"),
    "warning": ("警告", "Warning"),
    "critical": ("严重", "Critical"),
}
_KINDS: dict[AlertKind, tuple[str, str]] = {
    "stale": ("数据延迟", "Feed stale"),
    "offline": ("平台离线", "Partner offline"),
    "live": ("恢复接收", "Live again"),
    "drop": ("在线人数骤降", "Concurrency drop"),
    "milestone": ("观看里程碑", "Views milestone"),
    "churn": ("会话异常", "Session churn"),
}
_LABELS: dict[str, tuple[str, str]] = {
    "stream": ("直播", "Stream"),
    "partner": ("平台", "Partner"),
    "at": ("开始于", "Since"),
    "open": ("打开看板", "Open dashboard"),
    "all": ("全部平台", "all partners"),
}

_MONITOR_KINDS = frozenset({"stale", "offline", "live", "churn"})
"""Kinds about a partner's feed: the monitor page shows feeds; the others the live page."""


def _pick(pair: tuple[str, str], lang: Lang) -> str:
    return pair[1] if lang == "en" else pair[0]


@dataclass(frozen=True)
class AlertCard:
    """One alert as every bot shows it, in one language."""

    alert_id: str
    level: AlertLevel
    lang: Lang
    heading: str
    """``livetally · 严重 · 在线人数骤降``: names livetally, for bots that require a keyword."""
    message: str
    stream: str
    """The stream's title."""
    partner: str
    """The partner's display name, or "all partners" for a stream's total."""
    since: str
    """When the condition began, ``2026-12-02 13:05:10`` in the stream's time zone."""
    link: str | None
    """The dashboard page to look at, or None without ``LIVETALLY_DASHBOARD_URL``."""

    def label(self, name: str) -> str:
        """A field label (``stream``, ``partner``, ``at``, ``open``) in the card's language."""
        return _pick(_LABELS[name], self.lang)


def dashboard_link(base_url: str | None, alert: Alert) -> str | None:
    """The live page (drops, milestones) or the monitor page (feeds, churn) of the stream."""
    if not base_url:
        return None
    path = "/monitor" if alert.kind in _MONITOR_KINDS else "/"
    return f"{base_url.rstrip('/')}{path}?{urlencode({'stream': alert.stream})}"


def alert_card(
    alert: Alert, names: RegistryNames, lang: Lang, dashboard_url: str | None
) -> AlertCard:
    """The card of ``alert`` in ``lang``, naming partners and streams as registered."""
    tz = ZoneInfo(names.stream_tz(alert.stream))
    since = datetime.fromtimestamp(alert.at / 1000, UTC).astimezone(tz)
    partner = names.partner(alert.platform, lang) if alert.platform else _pick(_LABELS["all"], lang)
    level, kind = _pick(_LEVELS[alert.level], lang), _pick(_KINDS[alert.kind], lang)
    return AlertCard(
        alert_id=alert.id,
        level=alert.level,
        lang=lang,
        heading=f"livetally · {level} · {kind}",
        message=alert.message(lang),
        stream=names.stream_title(alert.stream),
        partner=partner,
        since=since.strftime("%Y-%m-%d %H:%M:%S"),
        link=dashboard_link(dashboard_url, alert),
    )
