"""What the ingest API did with some events: accepted, and each rejection with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from livetally.client.exceptions import ClientError

__all__ = ["BatchResult", "RejectedEvent", "parse_result"]


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """One event the API refused: its position, a stable code, a sentence for people."""

    index: int
    code: str
    detail: str


@dataclass(slots=True)
class BatchResult:
    """What the API did with some events."""

    accepted: int = 0
    rejected: list[RejectedEvent] = field(default_factory=list)

    def add(self, other: BatchResult, offset: int = 0) -> None:
        """Add ``other``'s outcome, shifting its indexes by ``offset``."""
        self.accepted += other.accepted
        self.rejected.extend(
            RejectedEvent(r.index + offset, r.code, r.detail) for r in other.rejected
        )


def parse_result(doc: Any) -> BatchResult:
    """Read the API's answer ``{"accepted": n, "rejected": [{index, code, detail}, ...]}``."""
    if not isinstance(doc, dict):
        raise ClientError("the ingest API answered with something other than a JSON object")
    accepted = doc.get("accepted", 0)
    rejected_raw = doc.get("rejected", [])
    if isinstance(accepted, bool) or not isinstance(accepted, int):
        raise ClientError("the ingest API's answer has no integer 'accepted' count")
    if not isinstance(rejected_raw, list):
        rejected_raw = []
    rejected = [
        RejectedEvent(
            index=int(item.get("index", -1)),
            code=str(item.get("code", "rejected")),
            detail=str(item.get("detail", "")),
        )
        for item in rejected_raw
        if isinstance(item, dict)
    ]
    return BatchResult(accepted=accepted, rejected=rejected)
