"""The partner SDK for the ingest API, and the ``livetally send`` command built on it.

``Client`` batches events the way Segment's and PostHog's SDKs do: a batch goes out when
``batch_size`` events are waiting or the oldest has waited ``flush_interval`` seconds,
whichever comes first; optionally from a background thread with a bounded queue. Retrying
is always safe: counting is duplicate-proof, so an event sent twice counts once.

It needs httpx only (orjson, when installed, makes encoding faster) and imports nothing of
the ingest service: the rules of an event are the contract's (``contract.wire``).

- ``batching``: ``Client``, its queue and background sender; ``events``: its
  ``join``/``heartbeat``/``leave``/``count`` shortcuts
- ``poster``: one batch posted, with the retry rules of ``retries``
- ``results``: what the API did with the events; ``exceptions``: the SDK's errors
- ``send``: ``livetally send``, an NDJSON file posted in batches
- ``backfill``: ``KafkaClient``, the operator's producer straight to the events topic
"""

from __future__ import annotations

from livetally.client.backfill import KafkaClient
from livetally.client.batching import EXIT_TIMEOUT_S, Client, OnError
from livetally.client.exceptions import ClientError, QueueFull
from livetally.client.results import BatchResult, RejectedEvent, parse_result
from livetally.client.retries import backoff_delay, parse_retry_after
from livetally.client.send import LineError, iter_ndjson, partner_key, send_file

__all__ = [
    "EXIT_TIMEOUT_S",
    "BatchResult",
    "Client",
    "ClientError",
    "KafkaClient",
    "LineError",
    "OnError",
    "QueueFull",
    "RejectedEvent",
    "backoff_delay",
    "iter_ndjson",
    "parse_result",
    "parse_retry_after",
    "partner_key",
    "send_file",
]
