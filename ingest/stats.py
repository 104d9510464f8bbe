"""In-memory counts per partner since the process started: accepted events, rejections by
code, and requests that failed unexpectedly (answered 500)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any, NamedTuple

__all__ = ["IngestStats", "PartnerTotals"]


class PartnerTotals(NamedTuple):
    """One partner's counts."""

    accepted: int
    rejected: dict[str, int]
    unexpected_errors: int


class IngestStats:
    """Accepted events, rejections by code and unexpected errors, per partner."""

    def __init__(self) -> None:
        self._accepted: Counter[str] = Counter()
        self._rejected: dict[str, Counter[str]] = {}
        self._unexpected: Counter[str] = Counter()
        self.unexpected_total = 0
        """Unexpected errors of every request, whether its partner was known or not."""
        self._lock = threading.Lock()

    def record(self, partner: str, accepted: int, rejected_codes: Iterable[str]) -> None:
        """Add the outcome of one request."""
        codes = Counter(rejected_codes)
        with self._lock:
            self._accepted[partner] += accepted
            if codes:
                self._rejected.setdefault(partner, Counter()).update(codes)

    def record_unexpected(self, partner: str | None) -> None:
        """Add one request that failed unexpectedly (``partner`` None if not yet known)."""
        with self._lock:
            self.unexpected_total += 1
            if partner is not None:
                self._unexpected[partner] += 1

    def totals(self) -> dict[str, PartnerTotals]:
        """Every partner seen."""
        with self._lock:
            partners = set(self._accepted) | set(self._rejected) | set(self._unexpected)
            return {
                p: PartnerTotals(
                    self._accepted[p],
                    dict(self._rejected.get(p, Counter())),
                    self._unexpected[p],
                )
                for p in partners
            }

    def for_partner(self, partner: str) -> dict[str, Any]:
        """One partner's counts as a JSON-ready mapping."""
        with self._lock:
            rejected = dict(sorted(self._rejected.get(partner, Counter()).items()))
            return {
                "partner": partner,
                "accepted": self._accepted[partner],
                "rejected": rejected,
                "rejected_total": sum(rejected.values()),
                "unexpected_errors": self._unexpected[partner],
            }
