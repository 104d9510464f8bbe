"""The alert duty: the worker that owns events partition 0 runs the alert monitor and the
deliveries of what it raises."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

from contract.alerts import Alert, alert_key, encode_alert
from contract.deliveries import Channel
from stream.alert_cards import AlertCard
from stream.alerting import AlertMonitor
from stream.deliverer import Deliverer
from stream.registry_names import RegistryNames
from stream.sender import Send

__all__ = ["AlertDuty", "CardMaker"]

logger = logging.getLogger(__name__)

CardMaker = Callable[[Alert, RegistryNames], AlertCard]
"""``stream.alert_cards.alert_card`` with the language and dashboard URL of the config."""


class AlertDuty:
    """Starts the alert monitor while responsible, stops it otherwise, sends what it raises.

    ``new_monitor`` builds an ``AlertMonitor`` (not started). ``new_deliverer`` (None: no
    channel configured) builds the ``Deliverer`` once the monitor has caught up. At every
    tick it is offered the recent alerts read back without a delivery record for a channel
    (the previous owner's unfinished ones, or published late), then the new ones; what it
    already holds is skipped. ``close`` releases what the deliverers share (the HTTP client)
    when the worker stops.
    """

    def __init__(
        self,
        new_monitor: Callable[[], AlertMonitor],
        send: Send,
        new_deliverer: Callable[[], Deliverer] | None = None,
        card: CardMaker | None = None,
        *,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        if (new_deliverer is None) != (card is None):
            raise ValueError("new_deliverer and card go together")
        self._new_monitor = new_monitor
        self._send = send
        self._new_deliverer = new_deliverer
        self._card = card
        self._close = close
        self.monitor: AlertMonitor | None = None
        self.deliverer: Deliverer | None = None

    @property
    def active(self) -> bool:
        """Whether this worker runs the alert monitor now."""
        return self.monitor is not None

    async def tick(self, responsible: bool, now_ms: int) -> None:
        """Evaluate the alerts at ``now_ms`` if ``responsible`` (owns partition 0)."""
        if not responsible:
            await self.stop()
            return
        try:
            if self.monitor is None:
                monitor = self._new_monitor()
                await monitor.start()
                self.monitor = monitor
            await self.monitor.poll()
            alerts = self.monitor.evaluate(now_ms)
        except Exception:
            logger.exception("alert evaluation failed")
            return
        for alert in alerts:
            logger.info("alert %s: %s", alert.id, alert.message_en)
            await self._send("alerts", alert_key(alert), encode_alert(alert))
        try:
            self._deliver(self.monitor, alerts, now_ms)
        except Exception:  # the alerts are published; the next owner delivers them
            logger.exception("queueing alert deliveries failed")

    def _deliver(self, monitor: AlertMonitor, alerts: list[Alert], now_ms: int) -> None:
        if self._new_deliverer is None or self._card is None or not monitor.caught_up:
            return
        if self.deliverer is None:
            self.deliverer = self._new_deliverer()
        deliverer = self.deliverer
        # Every tick, not only the first: an alert or a missing record may be read back
        # after this worker caught up (the previous owner was still at work). The
        # deliverer skips what it holds; skipping here spares making its card again.
        offers: list[tuple[Alert, tuple[Channel, ...] | None]] = []
        for channel, alert in monitor.undelivered(deliverer.channels, now_ms):
            if not deliverer.known(channel, alert.id):
                logger.info("alert %s: not delivered to %s yet; delivering", alert.id, channel)
                offers.append((alert, (channel,)))
        offers.extend((alert, None) for alert in alerts)
        for alert, channels in offers:
            try:
                card = self._card(alert, monitor.names)
            except Exception as exc:  # one bad record must not hold up the others
                logger.exception("alert %s: its message could not be made", alert.id)
                deliverer.fail(alert, f"{type(exc).__name__}: {exc}"[:200], channels)
                continue
            deliverer.offer(alert, card, channels)

    def pending(self) -> dict[str, int]:
        """Alerts waiting for delivery, per channel (empty while not delivering)."""
        if self.deliverer is None:
            return {}
        return {channel: len(q.pending) for channel, q in self.deliverer.queues.items()}

    async def revoked(self, partitions: Collection[int]) -> None:
        """Stop at once if events partition 0 is among the revoked ``partitions``: its
        next owner delivers what is left, and this worker must not go on beside it."""
        if 0 in partitions:
            await self.stop()

    async def close(self) -> None:
        """Stop, and release the deliverers' HTTP client (the worker is stopping)."""
        await self.stop()
        if self._close is not None:
            await self._close()

    async def stop(self) -> None:
        """Stop the monitor and the deliveries (the next owner delivers what is left)."""
        if self.deliverer is not None:
            await self.deliverer.stop()
            self.deliverer = None
        if self.monitor is not None:
            await self.monitor.stop()
            self.monitor = None
