"""Where alerts are evaluated: a side consumer that follows the merged numbers, and a webhook.

Alerts need totals over all partitions, which are spread over workers, so they are evaluated
in one place: the worker that owns partition 0 of the events topic runs an ``AlertMonitor``.
It follows the partials and stats topics like the dashboard does (from the beginning, into
the same ``contract.series.PartialsMerge``), reads the alerts already published so that a
restart does not raise them again, and evaluates the pure rules of ``stream.alerts``. The
churn figures each partition publishes in its stats records are summed per partner with
``stream.churn.combine``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import orjson

from contract.alerts import Alert
from contract.partials import chunk_from_record
from contract.series import PartialsMerge, Steps
from contract.stats import decode_stats
from stream.alerts import AlertEvaluator, AlertRules, active_streams
from stream.churn import RecentFigures, combine
from stream.clients import partitions_of, started_consumer

__all__ = ["AlertMonitor", "post_webhook"]

logger = logging.getLogger(__name__)


class AlertMonitor:
    """Follows partials, stats and alerts topics and turns them into new alerts."""

    def __init__(
        self,
        connect: Mapping[str, Any],
        partials_topic: str,
        stats_topic: str,
        alerts_topic: str,
        rules: AlertRules,
    ) -> None:
        self._connect = dict(connect)
        self._partials = partials_topic
        self._stats = stats_topic
        self._alerts = alerts_topic
        self.evaluator = AlertEvaluator(rules)
        self.partials = PartialsMerge()
        self.arrivals: dict[tuple[str, str, int], int] = {}
        self.recent: dict[tuple[str, str, int], RecentFigures] = {}
        """Each partition's churn figures per (stream, partner, partition)."""
        self._consumer: Any = None
        self._caught_up = False
        self._targets: dict[Any, int] = {}

    async def start(self) -> None:
        """Assign every partition of the three topics from the beginning."""
        from aiokafka import TopicPartition

        consumer = await started_consumer(self._connect, auto_offset_reset="earliest")
        tps = [
            TopicPartition(topic, p)
            for topic in (self._partials, self._stats, self._alerts)
            for p in await partitions_of(consumer, topic)
        ]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        self._targets = dict(await consumer.end_offsets(tps))
        self._consumer = consumer

    async def poll(self) -> None:
        """Take in whatever arrived since the last poll."""
        consumer = self._consumer
        if consumer is None:
            return
        for _ in range(200):
            batches = await consumer.getmany(timeout_ms=50, max_records=5000)
            if not batches:
                break
            for tp, records in batches.items():
                for record in records:
                    self._take(tp.topic, record.key, record.value)
        if not self._caught_up:
            positions = {tp: await consumer.position(tp) for tp in self._targets}
            self._caught_up = all(positions[tp] >= end for tp, end in self._targets.items())

    @property
    def caught_up(self) -> bool:
        """True once everything published before the monitor started has been read."""
        return self._caught_up

    def _take(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        try:
            if topic == self._partials:
                # A deleted minute is an empty one, as the dashboard reads it.
                self.partials.put(chunk_from_record(key, value))
                return
            if value is None:
                return
            if topic == self._stats:
                stats = decode_stats(value)
                where = (stats.stream, stats.platform, stats.partition)
                if stats.last_arrival is not None:
                    self.arrivals[where] = stats.last_arrival
                if stats.recent_as_of is not None:  # absent from older records
                    self.recent[where] = RecentFigures(
                        stats.recent_as_of,
                        stats.recent_offline_sessions,
                        stats.recent_single_event_offline,
                    )
            elif topic == self._alerts:
                doc = orjson.loads(value)
                if isinstance(doc, dict):
                    self.evaluator.remember(doc)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            logger.warning("alert monitor skipped a %s record %r: %s", topic, key, exc)

    def evaluate(self, now_ms: int) -> list[Alert]:
        """The alerts that are new at ``now_ms`` (none until caught up)."""
        if not self._caught_up:
            return []
        rules = self.evaluator.rules
        last: dict[tuple[str, str], int] = {}
        for (stream, platform, _), at in self.arrivals.items():
            last[(stream, platform)] = max(at, last.get((stream, platform), at))
        streams = set(active_streams(last, now_ms, rules))
        steps: dict[tuple[str, str], Steps] = {
            key: diffs.steps() for key, diffs in self.partials.partners.items() if key[0] in streams
        }
        totals = {
            stream: diffs.steps()
            for stream, diffs in self.partials.totals.items()
            if stream in streams
        }
        per_partner: dict[tuple[str, str], list[RecentFigures]] = {}
        for (stream, platform, _), figures in self.recent.items():
            per_partner.setdefault((stream, platform), []).append(figures)
        recent = {key: combine(parts) for key, parts in per_partner.items()}
        return self.evaluator.evaluate(steps, totals, last, now_ms, recent)

    async def stop(self) -> None:
        """Close the side consumer."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


async def post_webhook(client: Any, url: str, alert: Alert) -> None:
    """POST one alert as JSON; failures are logged, never raised (best effort)."""
    try:
        response = await client.post(url, json=alert.to_json(), timeout=5.0)
        if response.status_code >= 400:
            logger.warning("alert webhook answered %d for %s", response.status_code, alert.id)
    except Exception as exc:  # any network failure must not reach the counting loop
        logger.warning("alert webhook failed for %s: %s", alert.id, exc)


def schedule_webhook(client: Any, url: str, alerts: list[Alert]) -> None:
    """Fire the webhook for each alert in the background."""
    for alert in alerts:
        task = asyncio.ensure_future(post_webhook(client, url, alert))
        _pending.add(task)
        task.add_done_callback(_pending.discard)


_pending: set[asyncio.Future[None]] = set()
