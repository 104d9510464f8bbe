"""The alert record: what the stream app publishes to the alerts topic and the dashboard reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import orjson

__all__ = [
    "Alert",
    "AlertKind",
    "AlertLevel",
    "alert_key",
    "decode_alert",
    "encode_alert",
    "parse_alert",
]

AlertKind = Literal["stale", "offline", "live", "drop", "milestone", "churn"]
AlertLevel = Literal["info", "warning", "critical"]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as published to the alerts topic (keyed by ``id``) and the webhook."""

    id: str
    at: int
    """When the condition began (epoch ms)."""
    raised_at: int
    """When livetally noticed it (epoch ms)."""
    stream: str
    platform: str | None
    """The partner, or None for the stream's total."""
    kind: AlertKind
    level: AlertLevel
    message_zh: str
    message_en: str
    value: float | None

    def to_json(self) -> dict[str, Any]:
        """The alert as a JSON object."""
        return asdict(self)

    def message(self, lang: str) -> str:
        """The message in a language (``zh`` or ``en``)."""
        return self.message_en if lang == "en" and self.message_en else self.message_zh


def _text(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _integer(doc: dict[str, Any], name: str) -> int:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    return value


def parse_alert(doc: object) -> Alert:
    """A decoded alerts-topic record; ``ValueError`` says what is wrong with it."""
    if not isinstance(doc, dict):
        raise ValueError("alert is not an object")
    kind = doc.get("kind")
    if kind not in get_args(AlertKind):
        raise ValueError(f"alert kind {kind!r} is not one of {', '.join(get_args(AlertKind))}")
    level = doc.get("level")
    if level not in get_args(AlertLevel):
        raise ValueError(f"alert level {level!r} is not one of info, warning, critical")
    platform = doc.get("platform")
    if platform is not None and not isinstance(platform, str):
        raise ValueError("platform must be a string or null")
    value = doc.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError("value must be a number or null")
    message_zh, message_en = doc.get("message_zh"), doc.get("message_en")
    if not isinstance(message_zh, str) or not isinstance(message_en, str):
        raise ValueError("message_zh and message_en must be strings")
    return Alert(
        id=_text(doc, "id"),
        at=_integer(doc, "at"),
        raised_at=_integer(doc, "raised_at"),
        stream=_text(doc, "stream"),
        platform=platform,
        kind=kind,  # type: ignore[arg-type]  # checked above
        level=level,  # type: ignore[arg-type]  # checked above
        message_zh=message_zh,
        message_en=message_en,
        value=None if value is None else float(value),
    )


def alert_key(alert: Alert) -> bytes:
    """The alerts-topic key of an alert: its id."""
    return alert.id.encode()


def encode_alert(alert: Alert) -> bytes:
    """The alerts-topic value of an alert (the same JSON the webhook gets)."""
    return orjson.dumps(alert.to_json())


def decode_alert(value: bytes) -> Alert:
    """Parse an alerts-topic value; ``ValueError`` says what is wrong with it."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"alert is not JSON: {exc}") from None
    return parse_alert(doc)
