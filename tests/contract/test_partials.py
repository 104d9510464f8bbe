"""The partials record: its key, its bytes (as the worker has always written them), decoding."""

from __future__ import annotations

import pytest

from contract.keys import join_key
from contract.partials import (
    Chunk,
    chunk_from_record,
    chunk_key,
    decode_chunk,
    encode_chunk,
    parse_chunk_key,
)

T0 = 1_734_778_800
SAMPLE = Chunk("carnival", "抖音", 2, T0 // 60, {T0 + 1: (1, 1, 1), T0: (3, 2, -1)})


def test_key_and_value_bytes_are_those_already_on_the_topic():
    assert chunk_key("carnival", "抖音", 2, T0 // 60) == (
        b"carnival\x1f\xe6\x8a\x96\xe9\x9f\xb3\x1f2\x1f28912980"
    )
    assert encode_chunk(SAMPLE) == (
        b'{"stream":"carnival","platform":"\xe6\x8a\x96\xe9\x9f\xb3","partition":2,'
        b'"minute":28912980,"seconds":{"1734778800":[3,2,-1],"1734778801":[1,1,1]}}'
    )


def test_value_decodes_to_its_chunk_and_key_to_its_slot():
    assert decode_chunk(encode_chunk(SAMPLE)) == SAMPLE
    assert parse_chunk_key(chunk_key("carnival", "抖音", 2, T0 // 60)) == (
        "carnival",
        "抖音",
        2,
        T0 // 60,
    )


def test_record_decodes_to_its_chunk():
    original = Chunk("carnival", "douyin", 2, T0 // 60 * 60, {T0: (1, 2, 3)})
    key = chunk_key("carnival", "douyin", 2, original.minute)
    assert chunk_from_record(key, encode_chunk(original)) == original


def test_a_tombstone_is_an_empty_chunk_for_its_key():
    key = chunk_key("carnival", "douyin", 0, T0 // 60 * 60)
    assert chunk_from_record(key, None) == Chunk("carnival", "douyin", 0, T0 // 60 * 60, {})


def test_malformed_partials_key_is_a_value_error():
    with pytest.raises(ValueError, match="partials key"):
        chunk_from_record(join_key("only", "two"), None)
    with pytest.raises(ValueError):
        parse_chunk_key(join_key("s", "p", "zero", 0))
