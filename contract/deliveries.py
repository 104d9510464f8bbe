"""The alert-delivery record: how the delivery of one alert to one channel ended."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, get_args

import orjson

__all__ = [
    "Channel",
    "Delivery",
    "Outcome",
    "decode_delivery",
    "delivery_key",
    "encode_delivery",
    "split_delivery_key",
]

Channel = Literal["webhook", "wecom", "dingtalk", "feishu"]
"""Where alerts are delivered: the signed generic webhook and the three group bots."""
Outcome = Literal["delivered", "failed"]
"""``delivered``: the channel accepted it; ``failed``: given up (a permanent refusal, the
5-minute window ran out, or too many alerts were waiting)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """The final outcome of delivering one alert to one channel (keyed ``channel/alert_id``)."""

    channel: Channel
    alert_id: str
    outcome: Outcome
    at: int
    """When the outcome was reached (epoch ms)."""
    attempts: int
    """HTTP requests made (0 when given up without one)."""
    detail: str = ""
    """Why it failed, or the last error before it succeeded ("" when none)."""


def delivery_key(channel: Channel, alert_id: str) -> bytes:
    """``<channel>/<alert id>``: one record per alert and channel (the topic is compacted)."""
    return f"{channel}/{alert_id}".encode()


def split_delivery_key(key: bytes) -> tuple[Channel, str]:
    """The channel and alert id of a key; ``ValueError`` for anything else."""
    channel, sep, alert_id = key.decode(errors="replace").partition("/")
    if not sep or not alert_id or channel not in get_args(Channel):
        raise ValueError(f"bad alert-deliveries key {key!r}")
    return channel, alert_id  # type: ignore[return-value]  # checked above


def encode_delivery(delivery: Delivery) -> bytes:
    """The alert-deliveries value of a delivery."""
    return orjson.dumps(asdict(delivery))


def _integer(doc: dict[str, object], name: str) -> int:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    return value


def decode_delivery(value: bytes) -> Delivery:
    """Parse an alert-deliveries value; ``ValueError`` says what is wrong with it."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"delivery is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("delivery is not an object")
    channel, outcome = doc.get("channel"), doc.get("outcome")
    if channel not in get_args(Channel):
        raise ValueError(
            f"delivery channel {channel!r} is not one of {', '.join(get_args(Channel))}"
        )
    if outcome not in get_args(Outcome):
        raise ValueError(f"delivery outcome {outcome!r} is not delivered or failed")
    alert_id, detail = doc.get("alert_id"), doc.get("detail", "")
    if not isinstance(alert_id, str) or not alert_id or not isinstance(detail, str):
        raise ValueError("alert_id must be a non-empty string and detail a string")
    at, attempts = _integer(doc, "at"), _integer(doc, "attempts")
    return Delivery(channel, alert_id, outcome, at, attempts, detail)  # type: ignore[arg-type]
