"""The records ingest publishes to the metrics topic."""

from __future__ import annotations

import orjson

from ingest.metrics import metrics_records
from ingest.stats import IngestStats


def test_each_partner_record_carries_its_unexpected_errors():
    stats = IngestStats()
    stats.record("douyu", 5, ["bad_value"])
    stats.record_unexpected("douyu")
    stats.record_unexpected("huya")  # failed before any event of huya was counted
    stats.record_unexpected(None)  # failed before the partner was known
    records = metrics_records(stats.totals(), instance="h-1-8080", at_ms=1000)
    docs = {r.key.decode(): orjson.loads(r.value) for r in records}
    assert docs == {
        "ingest/h-1-8080/douyu": {
            "kind": "ingest",
            "instance": "h-1-8080",
            "partner": "douyu",
            "at": 1000,
            "accepted": 5,
            "rejected": {"bad_value": 1},
            "unexpected_errors": 1,
        },
        "ingest/h-1-8080/huya": {
            "kind": "ingest",
            "instance": "h-1-8080",
            "partner": "huya",
            "at": 1000,
            "accepted": 0,
            "rejected": {},
            "unexpected_errors": 1,
        },
    }
    assert stats.unexpected_total == 3
