"""The metrics records: pipeline figures of each worker and ingest counters of each instance.

The compacted metrics topic holds, per key, the newest record of

- ``pipeline/<worker>``: a worker's partitions, consumer lag, event-to-publish latency
  percentiles and event rate (``PipelineMetrics``), and
- ``ingest/<instance>/<partner>``: one ingest instance's counts for one partner since the
  instance started (``IngestMetrics``).

The dashboard's monitor reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import orjson

__all__ = [
    "IngestMetrics",
    "Metrics",
    "PipelineMetrics",
    "decode_metric",
    "encode_metric",
    "ingest_key",
    "metric_doc",
    "metric_key",
    "parse_metric",
    "pipeline_key",
    "pipeline_metrics",
]

PIPELINE = "pipeline"
INGEST = "ingest"


@dataclass(frozen=True, slots=True)
class PipelineMetrics:
    """One worker's report: its partitions, consumer lag and event-to-publish latency."""

    worker: str
    at: int
    partitions: tuple[int, ...]
    lag: Mapping[int, int]
    latency_ms: Mapping[str, float]
    events_per_s: float

    @property
    def total_lag(self) -> int:
        """Records behind, summed over the worker's partitions."""
        return sum(self.lag.values())


@dataclass(frozen=True, slots=True)
class IngestMetrics:
    """One ingest instance's counters for one partner since the instance started."""

    instance: str
    partner: str
    at: int
    accepted: int
    rejected: Mapping[str, int]
    unexpected_errors: int = 0
    """The partner's requests answered 500."""


Metrics = PipelineMetrics | IngestMetrics


def pipeline_key(worker: str) -> bytes:
    """The key of a worker's pipeline record."""
    return f"{PIPELINE}/{worker}".encode()


def ingest_key(instance: str, partner: str) -> bytes:
    """The key of an ingest instance's record for one partner."""
    return f"{INGEST}/{instance}/{partner}".encode()


def metric_key(metric: Metrics) -> bytes:
    """The key a metrics record is published under."""
    if isinstance(metric, PipelineMetrics):
        return pipeline_key(metric.worker)
    return ingest_key(metric.instance, metric.partner)


def pipeline_metrics(
    worker: str,
    at_ms: int,
    partitions: Iterable[int],
    lag: Mapping[int, int],
    latency_ms: Mapping[str, float],
    events_per_s: float,
) -> PipelineMetrics:
    """A worker's pipeline record: partitions sorted, negative lags read as none."""
    return PipelineMetrics(
        worker=worker,
        at=at_ms,
        partitions=tuple(sorted(partitions)),
        lag={p: max(0, n) for p, n in sorted(lag.items())},
        latency_ms=dict(latency_ms),
        events_per_s=events_per_s,
    )


def metric_doc(metric: Metrics) -> dict[str, object]:
    """A metrics record as the JSON object it is published as."""
    if isinstance(metric, PipelineMetrics):
        return {
            "kind": PIPELINE,
            "worker": metric.worker,
            "at": metric.at,
            "partitions": list(metric.partitions),
            "lag": {str(p): n for p, n in sorted(metric.lag.items())},
            "latency_ms": dict(metric.latency_ms),
            "events_per_s": metric.events_per_s,
        }
    return {
        "kind": INGEST,
        "instance": metric.instance,
        "partner": metric.partner,
        "at": metric.at,
        "accepted": metric.accepted,
        "rejected": dict(sorted(metric.rejected.items())),
        "unexpected_errors": metric.unexpected_errors,
    }


def encode_metric(metric: Metrics) -> bytes:
    """A metrics record's value."""
    return orjson.dumps(metric_doc(metric))


def _int(doc: Mapping[str, object], name: str) -> int:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    return value


def _num(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)


def _str(doc: Mapping[str, object], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _counts(value: object, name: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object")
    out: dict[str, int] = {}
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name}[{k!r}] must be a non-negative integer")
        out[str(k)] = v
    return out


def parse_metric(key: str, doc: object) -> Metrics:
    """A decoded ``metrics`` record; ``ValueError`` says what is wrong with it."""
    if not isinstance(doc, dict):
        raise ValueError("metrics record is not an object")
    kind = doc.get("kind")
    if kind == PIPELINE and key.startswith(f"{PIPELINE}/"):
        partitions = doc.get("partitions", [])
        if not isinstance(partitions, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) for p in partitions
        ):
            raise ValueError("partitions must be a list of integers")
        lag = {int(p): n for p, n in _counts(doc.get("lag", {}), "lag").items()}
        latency = doc.get("latency_ms", {})
        if not isinstance(latency, dict):
            raise ValueError("latency_ms must be an object")
        return PipelineMetrics(
            worker=_str(doc, "worker"),
            at=_int(doc, "at"),
            partitions=tuple(sorted(partitions)),
            lag=lag,
            latency_ms={str(k): _num(v, f"latency_ms[{k!r}]") for k, v in latency.items()},
            events_per_s=_num(doc.get("events_per_s", 0), "events_per_s"),
        )
    if kind == INGEST and key.startswith(f"{INGEST}/"):
        accepted = _int(doc, "accepted")
        if accepted < 0:
            raise ValueError("accepted must not be negative")
        unexpected = doc.get("unexpected_errors", 0)  # absent from older records
        if isinstance(unexpected, bool) or not isinstance(unexpected, int) or unexpected < 0:
            raise ValueError("unexpected_errors must be a non-negative integer")
        return IngestMetrics(
            instance=_str(doc, "instance"),
            partner=_str(doc, "partner"),
            at=_int(doc, "at"),
            accepted=accepted,
            rejected=_counts(doc.get("rejected", {}), "rejected"),
            unexpected_errors=unexpected,
        )
    raise ValueError(f"metrics record kind {kind!r} does not match key {key!r}")


def decode_metric(key: bytes | None, value: bytes) -> Metrics:
    """Parse a metrics record; ``ValueError`` says what is wrong with it."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"metrics record is not JSON: {exc}") from None
    return parse_metric((key or b"").decode(errors="replace"), doc)
