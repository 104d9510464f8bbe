"""docs/architecture.md's topic table names, for each topic, the contract module that
defines its record, and that module builds keys of the documented shape."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from contract import (
    alerts,
    checkpoints,
    deadletter,
    deliveries,
    metrics,
    partials,
    records,
    stats,
    topics,
)
from contract import registry as registry_items
from contract.keys import KEY_SEP
from contract.settings import KafkaSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"

KEY_BUILDERS = {
    topics.EVENTS: records.partition_key,
    topics.REGISTRY: registry_items.record_key,
    topics.PARTIALS: partials.chunk_key,
    topics.STATS: stats.stats_key,
    topics.DEADLETTER: deadletter.deadletter_key,
    topics.ALERTS: alerts.alert_key,
    topics.DELIVERIES: deliveries.delivery_key,
    topics.METRICS: metrics.metric_key,
    topics.CHECKPOINTS: checkpoints.manifest_key,
}
"""Each topic's key builder: the function that puts its records' keys together."""


def _rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `livetally\.(\w+)` \|", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in line.strip("|").split(" | ")]
    return rows


def test_every_topic_has_a_row_naming_the_module_that_defines_it():
    rows = _rows()
    kafka = KafkaSettings()
    assert {spec.name for spec in topics.topic_specs(kafka)} == {kafka.topic(t) for t in rows}
    for topic, builder in KEY_BUILDERS.items():
        defined_in = rows[topic][-1]
        module = re.match(r"`(contract/\w+)\.py`", defined_in)
        assert module, (topic, defined_in)
        name = module.group(1).replace("/", ".")
        assert builder.__module__ == name, (topic, builder.__module__, name)
        assert importlib.import_module(name) is not None


def test_composite_keys_have_the_documented_parts():
    rows = _rows()
    samples = {
        topics.EVENTS: records.partition_key("s", "p", "v"),
        topics.PARTIALS: partials.chunk_key("s", "p", 1, 2),
        topics.STATS: stats.stats_key(stats.PartitionStats("s", "p", 1, None, None, 0, 0)),
    }
    for topic, key in samples.items():
        documented = rows[topic][1]
        assert documented.count("␟") + 1 == len(key.decode().split(KEY_SEP)), topic
