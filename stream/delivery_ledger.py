"""What the alert monitor knows of recent alerts and their deliveries. Pure code.

The monitor reads the alerts and deliveries topics from the beginning when it starts (on
a restart, or when the alert duty moves to another worker). The alerts raised within the
delivery window that have no delivery record for a channel are the ones the previous
owner had not finished: ``undelivered`` gives them, to be delivered again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from contract.alerts import Alert
from contract.deliveries import Channel, Delivery
from stream.delivery_queue import WINDOW_MS

__all__ = ["DeliveryLedger"]


class DeliveryLedger:
    """Recent alerts and the channels each has reached; anything older than the window is
    neither kept nor returned (``clock`` gives epoch ms, for what is read before a tick)."""

    def __init__(self, clock: Callable[[], int], window_ms: int = WINDOW_MS) -> None:
        self._clock = clock
        self.window_ms = window_ms
        self.alerts: dict[str, Alert] = {}
        self.done: dict[tuple[Channel, str], int] = {}
        """(channel, alert id) of every delivery record, with its time."""

    def _oldest(self, now_ms: int | None = None) -> int:
        return (self._clock() if now_ms is None else now_ms) - self.window_ms

    def take_alert(self, alert: Alert) -> None:
        """An alert read from the alerts topic."""
        if alert.raised_at >= self._oldest():
            self.alerts[alert.id] = alert

    def take_delivery(self, delivery: Delivery) -> None:
        """A delivery record: the channel is done with that alert, whatever the outcome.

        A delivery happens after its alert was raised, so a record older than the window is
        about an alert older than it too."""
        if delivery.at >= self._oldest():
            self.done[(delivery.channel, delivery.alert_id)] = delivery.at

    def forget_delivery(self, channel: Channel, alert_id: str) -> None:
        """A tombstone of a delivery record."""
        self.done.pop((channel, alert_id), None)

    def undelivered(self, channels: Iterable[Channel], now_ms: int) -> list[tuple[Channel, Alert]]:
        """Each (channel, alert) raised within the window and not recorded, oldest first."""
        oldest = self._oldest(now_ms)
        recent = sorted(
            (a for a in self.alerts.values() if a.raised_at >= oldest),
            key=lambda a: (a.raised_at, a.id),
        )
        wanted = list(channels)
        return [(c, a) for a in recent for c in wanted if (c, a.id) not in self.done]

    def prune(self, now_ms: int) -> None:
        """Drop what fell out of the window."""
        oldest = self._oldest(now_ms)
        self.alerts = {i: a for i, a in self.alerts.items() if a.raised_at >= oldest}
        self.done = {k: at for k, at in self.done.items() if at >= oldest}
