"""The deliveries of one channel waiting for their next attempt, and the backoff. Pure code.

An alert is offered once per channel and attempted at once; an attempt worth retrying is
tried again after 2, 4, 8, 16, 32 s and then every 60 s (``backoff_ms``), as long as the
next attempt falls within 5 minutes of the alert's ``raised_at`` (``WINDOW_MS``): an alert
older than that is news no more. At most ``max_pending`` alerts wait; beyond that a new
one is given up at once, so a storm of alerts cannot grow the worker's memory. Each final
outcome lands in ``outbox`` as a ``contract.deliveries.Delivery`` for the caller to record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contract.alerts import Alert
from contract.deliveries import Channel, Delivery, Outcome
from stream.alert_cards import AlertCard
from stream.channels.base import Answer

__all__ = ["BACKOFF_MS", "MAX_PENDING", "WINDOW_MS", "DeliveryQueue", "Pending", "backoff_ms"]

WINDOW_MS = 5 * 60_000
"""How long after an alert was raised it is still delivered (and retried)."""
BACKOFF_MS = (2_000, 4_000, 8_000, 16_000, 32_000, 60_000)
"""Waits after the 1st, 2nd, ... failed attempt; the last repeats."""
MAX_PENDING = 100
"""Alerts waiting per channel, at most (WeCom takes 20 messages a minute per bot)."""


def backoff_ms(failed_attempts: int, schedule: tuple[int, ...] = BACKOFF_MS) -> int:
    """The wait before the next attempt after ``failed_attempts`` (≥ 1) failed ones."""
    if failed_attempts < 1:
        raise ValueError("the backoff follows a failed attempt")
    return schedule[min(failed_attempts, len(schedule)) - 1]


@dataclass
class Pending:
    """One alert waiting to be delivered to the queue's channel."""

    alert: Alert
    card: AlertCard
    due_ms: int
    """When it is next attempted (epoch ms)."""
    order: int
    """Offer order: among alerts due together, the older offer goes first."""
    attempts: int = 0
    last_error: str = ""


@dataclass
class DeliveryQueue:
    """The pending deliveries of one channel; every method takes the time (epoch ms)."""

    channel: Channel
    window_ms: int = WINDOW_MS
    max_pending: int = MAX_PENDING
    backoff: tuple[int, ...] = BACKOFF_MS
    pending: dict[str, Pending] = field(default_factory=dict)
    """By alert id."""
    settled: dict[str, int] = field(default_factory=dict)
    """Alert ids whose delivery ended here, with their ``raised_at``: never offered again.
    Kept for twice the window, so that one offered again near the window's end by a caller
    with a slightly different clock is still known."""
    outbox: list[Delivery] = field(default_factory=list)
    """Final outcomes not yet recorded (the caller takes them)."""
    _offers: int = 0

    def knows(self, alert_id: str) -> bool:
        """Whether the alert is pending or settled here (offering it again does nothing)."""
        return alert_id in self.pending or alert_id in self.settled

    def offer(self, alert: Alert, card: AlertCard, now_ms: int) -> bool:
        """Queue ``alert`` for an attempt now; False if it is known, too old or the queue full."""
        if self.knows(alert.id):
            return False
        if now_ms >= alert.raised_at + self.window_ms:
            self._settle(alert, "failed", 0, "raised longer ago than the delivery window", now_ms)
            return False
        if len(self.pending) >= self.max_pending:
            detail = f"{self.max_pending} alerts were already waiting"
            self._settle(alert, "failed", 0, detail, now_ms)
            return False
        self._offers += 1
        self.pending[alert.id] = Pending(alert, card, now_ms, self._offers)
        return True

    def give_up(self, alert: Alert, detail: str, now_ms: int) -> bool:
        """Record ``alert`` as failed without an attempt (its message could not be made);
        False if it is known."""
        if self.knows(alert.id):
            return False
        self._settle(alert, "failed", 0, detail, now_ms)
        return True

    def next_due(self, now_ms: int) -> Pending | None:
        """The delivery to attempt now, if any (earliest due first)."""
        due = [p for p in self.pending.values() if p.due_ms <= now_ms]
        return min(due, key=lambda p: (p.due_ms, p.order)) if due else None

    def wait_ms(self, now_ms: int) -> int | None:
        """How long until the next delivery is due (None when nothing waits)."""
        if not self.pending:
            return None
        return max(0, min(p.due_ms for p in self.pending.values()) - now_ms)

    def settle(self, pending: Pending, answer: Answer, now_ms: int) -> None:
        """Take the verdict on an attempt at ``pending``: done, or due again after the
        backoff while that is within the window."""
        pending.attempts += 1
        alert = pending.alert
        if answer.verdict == "delivered":
            self._settle(alert, "delivered", pending.attempts, pending.last_error, now_ms)
        elif answer.verdict == "give_up":
            self._settle(alert, "failed", pending.attempts, answer.detail, now_ms)
        else:
            pending.last_error = answer.detail
            due = now_ms + backoff_ms(pending.attempts, self.backoff)
            if due >= alert.raised_at + self.window_ms:
                detail = f"no success within the delivery window; last: {answer.detail}"
                self._settle(alert, "failed", pending.attempts, detail, now_ms)
            else:
                pending.due_ms = due

    def forget_before(self, now_ms: int) -> None:
        """Drop settled ids of alerts raised long before the window: none is offered again."""
        oldest = now_ms - 2 * self.window_ms
        self.settled = {i: raised for i, raised in self.settled.items() if raised >= oldest}

    def _settle(
        self, alert: Alert, outcome: Outcome, attempts: int, detail: str, now_ms: int
    ) -> None:
        self.pending.pop(alert.id, None)
        self.settled[alert.id] = alert.raised_at
        self.outbox.append(Delivery(self.channel, alert.id, outcome, now_ms, attempts, detail))
