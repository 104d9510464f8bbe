"""The vectorised murmur2 partitioner picks exactly kafka-python's partitions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2 as kafka_murmur2

from contract.partitioner import murmur2_many, partition_for, partitions_for


@settings(deadline=None)  # the machine is shared: time is not what this checks
@given(st.lists(st.binary(max_size=200), max_size=60))
def test_many_keys_hash_exactly_as_kafka_python(keys):
    assert murmur2_many(keys) == [kafka_murmur2(key) for key in keys]


@settings(deadline=None)
@given(st.lists(st.binary(max_size=80), min_size=1, max_size=60), st.integers(1, 64))
def test_partitions_of_many_keys_equal_kafka_pythons_default_partitioner(keys, partitions):
    expected = [(kafka_murmur2(key) & 0x7FFFFFFF) % partitions for key in keys]
    assert partitions_for(keys, partitions) == expected
    assert [partition_for(key, partitions) for key in keys] == expected


def test_a_topic_without_partitions_is_a_programming_error():
    with pytest.raises(ValueError):
        partitions_for([b"k"] * 10, 0)
    with pytest.raises(ValueError):
        partition_for(b"k", 0)
