"""Sends alerts to their channels in the background: one task per channel, thin glue around
``stream.delivery_queue`` and the channels' pure requests and verdicts.

``offer`` only queues (it never awaits), so the alert duty and the counting beside it
never wait for a bot. Each channel's task attempts what is due, one request at a time
(so a bot's messages keep their order and its rate limit is not hammered), sleeps until
the next attempt is due or a new alert arrives, and records each final outcome on the
deliveries topic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from typing import Any
from urllib.parse import urlsplit

from contract.alerts import Alert
from contract.deliveries import Channel, delivery_key, encode_delivery
from stream.alert_cards import AlertCard
from stream.channels.base import Answer, Sink
from stream.delivery_queue import BACKOFF_MS, DeliveryQueue, Pending
from stream.publisher import now_ms
from stream.sender import Send

__all__ = ["MAX_ANSWER_BYTES", "Deliverer"]

logger = logging.getLogger(__name__)

_TIMEOUT_S = 5.0
"""Longest wait for a bot's whole answer; a slow one is retried like a failed one."""
MAX_ANSWER_BYTES = 64 * 1024
"""How much of an answer is read: a bot's is a few dozen bytes; the rest is dropped."""


class Deliverer:
    """Delivers offered alerts to every channel, retrying within the window."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        send: Send,
        client: Callable[[], Any],
        *,
        clock: Callable[[], int] = now_ms,
        timeout_s: float = _TIMEOUT_S,
        backoff: tuple[int, ...] = BACKOFF_MS,
    ) -> None:
        # httpx logs every request's URL at INFO, and a bot's URL holds its key or token.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self._sinks = {sink.channel: sink for sink in sinks}
        self.queues = {channel: DeliveryQueue(channel, backoff=backoff) for channel in self._sinks}
        self._send = send
        self._client = client
        self._clock = clock
        self._timeout_s = timeout_s
        self._wake = {channel: asyncio.Event() for channel in self._sinks}
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The channels configured."""
        return tuple(self._sinks)

    def known(self, channel: Channel, alert_id: str) -> bool:
        """Whether the alert is waiting for ``channel`` or done with it here."""
        queue = self.queues.get(channel)
        return queue is not None and queue.knows(alert_id)

    def offer(
        self, alert: Alert, card: AlertCard, channels: Collection[Channel] | None = None
    ) -> None:
        """Queue ``alert`` for ``channels`` (default: all); returns at once."""
        now = self._clock()
        for channel in self._started(channels):
            self.queues[channel].offer(alert, card, now)
            self._wake[channel].set()

    def fail(self, alert: Alert, detail: str, channels: Collection[Channel] | None = None) -> None:
        """Record ``alert`` as failed for ``channels`` (default: all) without an attempt."""
        now = self._clock()
        for channel in self._started(channels):
            self.queues[channel].give_up(alert, detail, now)
            self._wake[channel].set()

    def _started(self, channels: Collection[Channel] | None) -> list[Channel]:
        """The configured ones of ``channels`` (default: all), their tasks running."""
        if not self._tasks:
            self._tasks = [asyncio.ensure_future(self._run(channel)) for channel in self._sinks]
        return [c for c in (self._sinks if channels is None else channels) if c in self._sinks]

    async def stop(self) -> None:
        """Cancel the channels' tasks (what is pending is the next owner's to deliver)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, channel: Channel) -> None:
        queue, wake = self.queues[channel], self._wake[channel]
        while True:
            try:
                await self._record(queue)
                now = self._clock()
                queue.forget_before(now)
                pending = queue.next_due(now)
                if pending is None:
                    wait = queue.wait_ms(now)
                    wake.clear()
                    try:
                        await asyncio.wait_for(wake.wait(), None if wait is None else wait / 1000)
                    except TimeoutError:
                        pass
                    continue
                answer = await self._attempt(self._sinks[channel], pending)
                queue.settle(pending, answer, self._clock())
                if answer.verdict == "retry" and pending.alert.id in queue.pending:
                    logger.info(
                        "alert %s to %s: attempt %d failed (%s); retrying",
                        pending.alert.id,
                        channel,
                        pending.attempts,
                        answer.detail,
                    )
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug here must not end this channel's deliveries
                logger.exception("alert delivery to %s failed unexpectedly", channel)
                await asyncio.sleep(1.0)

    async def _attempt(self, sink: Sink, pending: Pending) -> Answer:
        request = sink.request(pending.alert, pending.card, self._clock())
        try:
            # httpx's timeout bounds each read, not the answer: one that trickles in would
            # hold this channel for as long as the bot likes.
            async with asyncio.timeout(self._timeout_s):
                async with self._client().stream(
                    "POST",
                    request.url,
                    content=request.body,
                    headers=request.headers,
                    timeout=self._timeout_s,
                ) as response:
                    body = await _read_at_most(response, MAX_ANSWER_BYTES)
        except Exception as exc:  # connection refused, timeout, TLS, DNS: all worth a retry
            return Answer("retry", _failure(exc, request.url))
        return sink.judge(response.status_code, body)

    async def _record(self, queue: DeliveryQueue) -> None:
        while queue.outbox:
            delivery = queue.outbox.pop(0)
            log = logger.info if delivery.outcome == "delivered" else logger.warning
            log(
                "alert %s to %s: %s after %d attempt(s)%s",
                delivery.alert_id,
                delivery.channel,
                delivery.outcome,
                delivery.attempts,
                f" ({delivery.detail})" if delivery.detail else "",
            )
            try:
                await self._send(
                    "deliveries",
                    delivery_key(delivery.channel, delivery.alert_id),
                    encode_delivery(delivery),
                )
            except Exception as exc:  # not recorded: a restart may deliver it again
                logger.warning("could not record the delivery of %s: %s", delivery.alert_id, exc)


async def _read_at_most(response: Any, limit: int) -> bytes:
    """The first ``limit`` bytes of a streamed answer's body."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])


def _failure(exc: Exception, url: str) -> str:
    """Why a request failed, naming the bot's host and never its path or query: they hold
    its key or token, and exception messages quote them in many forms."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]  # never a user or password either
    return f"{type(exc).__name__} from {parts.scheme}://{host}"
