"""Partner and stream names as the registry topic gives them, for alert texts. Pure code."""

from __future__ import annotations

import logging

import orjson

from contract.registry import DEFAULT_TZ, Partner, RegistryError, Stream, from_record

__all__ = ["RegistryNames"]

logger = logging.getLogger(__name__)


class RegistryNames:
    """The partners and streams of the registry topic (compacted; a tombstone deletes).

    Only partners and streams are kept: tokens' hashes have no business in the worker.
    An id that is not registered (or no longer) stands for itself.
    """

    def __init__(self) -> None:
        self.partners: dict[str, Partner] = {}
        self.streams: dict[str, Stream] = {}

    def take(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one registry record; unreadable ones are skipped with a warning."""
        kind, _, item_id = (key or b"").decode(errors="replace").partition("/")
        if value is None:
            if kind == "partner":
                self.partners.pop(item_id, None)
            elif kind == "stream":
                self.streams.pop(item_id, None)
            return
        if kind not in ("partner", "stream"):
            return
        try:
            item = from_record(orjson.loads(value))
        except (orjson.JSONDecodeError, RegistryError, TypeError, ValueError) as exc:
            logger.warning("alert names skipped registry record %r: %s", key, exc)
            return
        if isinstance(item, Partner):
            self.partners[item.id] = item
        elif isinstance(item, Stream):
            self.streams[item.id] = item

    def partner(self, partner_id: str, lang: str) -> str:
        """The partner's display name in ``lang`` (``zh`` or ``en``), else its id."""
        partner = self.partners.get(partner_id)
        return partner.display_name(lang) if partner is not None else partner_id

    def partner_names(self, partner_id: str) -> tuple[str, str]:
        """The partner's (Chinese, English) display names: ``stream.alerts.PartnerNames``."""
        return self.partner(partner_id, "zh"), self.partner(partner_id, "en")

    def stream_title(self, stream_id: str) -> str:
        """The stream's title, else its id."""
        stream = self.streams.get(stream_id)
        return stream.title if stream is not None and stream.title else stream_id

    def stream_tz(self, stream_id: str) -> str:
        """The stream's time zone (the registry's default for an unknown stream)."""
        stream = self.streams.get(stream_id)
        return stream.tz if stream is not None else DEFAULT_TZ
