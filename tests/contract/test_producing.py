"""How every writer of the events topic produces: acknowledged by all replicas, never twice."""

from __future__ import annotations

import importlib.machinery
import sys
import types

import pytest
from kafka import KafkaProducer

from contract.producing import producer_options


def test_every_replica_acknowledges_and_a_retry_never_writes_twice():
    options = producer_options(5.0)
    assert options["acks"] == "all"
    assert options["enable_idempotence"] is True


def test_the_topic_is_never_created_by_a_metadata_request():
    assert producer_options(5.0)["allow_auto_create_topics"] is False


@pytest.mark.parametrize(
    ("ack_timeout_s", "ms"), [(5.0, 5000), (0.25, 250), (30, 30_000), (1.0009, 1000)]
)
def test_sending_blocks_no_longer_than_the_ack_timeout(ack_timeout_s, ms):
    options = producer_options(ack_timeout_s)
    assert options["max_block_ms"] == ms
    assert options["bootstrap_timeout_ms"] == ms
    assert isinstance(options["max_block_ms"], int)


def test_a_delivery_outlives_its_requests():
    options = producer_options(5.0)
    assert options["request_timeout_ms"] < options["delivery_timeout_ms"]
    assert options["linger_ms"] < options["request_timeout_ms"]


def test_a_packed_batch_fits_a_request():
    options = producer_options(5.0)
    assert options["batch_size"] <= options["max_request_size"]
    assert options["max_request_size"] == 4 * 1024 * 1024


def test_every_option_is_one_kafka_python_knows():
    unknown = set(producer_options(5.0)) - set(KafkaProducer.DEFAULT_CONFIG)
    assert unknown == set()


def test_without_lz4_installed_nothing_is_compressed(monkeypatch):
    monkeypatch.setitem(sys.modules, "lz4", None)
    assert producer_options(5.0)["compression_type"] is None


def test_with_lz4_installed_records_are_compressed_with_it(monkeypatch):
    lz4 = types.ModuleType("lz4")
    lz4.__spec__ = importlib.machinery.ModuleSpec("lz4", None)
    monkeypatch.setitem(sys.modules, "lz4", lz4)
    assert producer_options(5.0)["compression_type"] == "lz4"


def test_each_call_returns_its_own_options():
    first = producer_options(5.0)
    first["acks"] = 1
    assert producer_options(5.0)["acks"] == "all"
