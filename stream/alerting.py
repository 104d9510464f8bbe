"""Where alerts are evaluated: a side consumer that follows the merged numbers.

Alerts need totals over all partitions, which are spread over workers, so they are evaluated
in one place: the worker that owns partition 0 of the events topic runs an ``AlertMonitor``.
It follows the partials and stats topics like the dashboard does (from the beginning, into
the same ``contract.series.PartialsMerge``), reads the alerts already published so that a
restart does not raise them again, and evaluates the pure rules of ``stream.alerts``. The
churn figures each partition publishes in its stats records are summed per partner with
``stream.churn.combine``. With the registry topic it names partners by their display names
(``stream.registry_names``); with the deliveries topic it knows which recent alerts were
not delivered yet (``stream.delivery_ledger``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from contract.alerts import Alert, parse_alert
from contract.deliveries import Channel, decode_delivery, split_delivery_key
from contract.partials import chunk_from_record
from contract.series import PartialsMerge, Steps
from contract.stats import decode_stats
from stream.alerts import AlertEvaluator, AlertRules, active_streams
from stream.churn import RecentFigures, combine
from stream.clients import partitions_of, started_consumer
from stream.delivery_ledger import DeliveryLedger
from stream.publisher import now_ms
from stream.registry_names import RegistryNames

__all__ = ["AlertMonitor"]

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
        *,
        registry_topic: str | None = None,
        deliveries_topic: str | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self._connect = dict(connect)
        self._partials = partials_topic
        self._stats = stats_topic
        self._alerts = alerts_topic
        self._registry = registry_topic
        self._deliveries = deliveries_topic
        self.names = RegistryNames()
        self.evaluator = AlertEvaluator(rules, names=self.names.partner_names)
        self.ledger = DeliveryLedger(clock or now_ms)
        self.partials = PartialsMerge()
        self.arrivals: dict[tuple[str, str, int], int] = {}
        self.recent: dict[tuple[str, str, int], RecentFigures] = {}
        """Each partition's churn figures per (stream, partner, partition)."""
        self._consumer: Any = None
        self._caught_up = False
        self._targets: dict[Any, int] = {}

    async def start(self) -> None:
        """Assign every partition of the topics followed, from the beginning."""
        from aiokafka import TopicPartition

        consumer = await started_consumer(self._connect, auto_offset_reset="earliest")
        topics = [self._partials, self._stats, self._alerts, self._registry, self._deliveries]
        tps = [
            TopicPartition(topic, p)
            for topic in topics
            if topic is not None
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
            if topic == self._registry:
                self.names.take(key, value)
                return
            if topic == self._deliveries:
                if value is None:
                    self.ledger.forget_delivery(*split_delivery_key(key or b""))
                else:
                    self.ledger.take_delivery(decode_delivery(value))
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
                    self.ledger.take_alert(parse_alert(doc))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            logger.warning("alert monitor skipped a %s record %r: %s", topic, key, exc)

    def evaluate(self, now_ms: int) -> list[Alert]:
        """The alerts that are new at ``now_ms`` (none until caught up)."""
        if not self._caught_up:
            return []
        rules = self.evaluator.rules
        self.ledger.prune(now_ms)
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

    def undelivered(self, channels: Iterable[Channel], now_ms: int) -> list[tuple[Channel, Alert]]:
        """Recent alerts read back with no delivery record for a channel (``caught_up``
        first: before that, records not yet read would look missing)."""
        return self.ledger.undelivered(channels, now_ms) if self._caught_up else []

    async def stop(self) -> None:
        """Close the side consumer."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
