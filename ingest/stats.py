"""In-memory counts of accepted and rejected events per partner, since the process started."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

__all__ = ["IngestStats"]


class IngestStats:
    """Accepted events and rejections by code, per partner."""

    def __init__(self) -> None:
        self._accepted: Counter[str] = Counter()
        self._rejected: dict[str, Counter[str]] = {}
        self._lock = threading.Lock()

    def record(self, partner: str, accepted: int, rejected_codes: Iterable[str]) -> None:
        """Add the outcome of one request."""
        codes = Counter(rejected_codes)
        with self._lock:
            self._accepted[partner] += accepted
            if codes:
                self._rejected.setdefault(partner, Counter()).update(codes)

    def totals(self) -> dict[str, tuple[int, dict[str, int]]]:
        """Every partner seen: ``(accepted, rejected by code)``."""
        with self._lock:
            partners = set(self._accepted) | set(self._rejected)
            return {
                p: (self._accepted[p], dict(self._rejected.get(p, Counter()))) for p in partners
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
            }
