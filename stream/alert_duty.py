"""The alert duty: the worker that owns events partition 0 runs the alert monitor."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from contract.alerts import Alert, alert_key, encode_alert
from stream.alerting import AlertMonitor, schedule_webhook
from stream.sender import Send

__all__ = ["AlertDuty"]

logger = logging.getLogger(__name__)


def _http_client() -> Any:
    import httpx

    return httpx.AsyncClient()


class AlertDuty:
    """Starts the alert monitor while responsible, stops it otherwise, sends what it raises.

    ``new_monitor`` builds an ``AlertMonitor`` (not started); the webhook's HTTP client is
    created at the first alert to post.
    """

    def __init__(
        self,
        new_monitor: Callable[[], AlertMonitor],
        send: Send,
        webhook: str | None = None,
        *,
        http_client: Callable[[], Any] = _http_client,
        schedule: Callable[[Any, str, list[Alert]], None] = schedule_webhook,
    ) -> None:
        self._new_monitor = new_monitor
        self._send = send
        self._webhook = webhook
        self._http_client = http_client
        self._schedule = schedule
        self.monitor: AlertMonitor | None = None
        self.http: Any = None

    @property
    def active(self) -> bool:
        """Whether this worker runs the alert monitor now."""
        return self.monitor is not None

    async def tick(self, responsible: bool, now_ms: int) -> None:
        """Evaluate the alerts at ``now_ms`` if ``responsible`` (owns partition 0)."""
        if not responsible:
            if self.monitor is not None:
                await self.monitor.stop()
                self.monitor = None
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
        if alerts and self._webhook:
            if self.http is None:
                self.http = self._http_client()
            self._schedule(self.http, self._webhook, alerts)
