"""The checkpoints topic's keys and manifest: bytes as the worker has always written them."""

from __future__ import annotations

import pytest

from contract.checkpoints import (
    Manifest,
    decode_manifest,
    encode_manifest,
    manifest_key,
    piece_key,
)


def test_keys_and_manifest_bytes_are_those_already_on_the_topic():
    assert manifest_key(2) == b"p2/manifest"
    assert piece_key(2, "10-ab12cd34", 1) == b"p2/10-ab12cd34/1"
    manifest = Manifest(2, "10-ab12cd34", 10, (4, 5), 99, 1234, 1734778800000)
    assert encode_manifest(manifest) == (
        b'{"v":1,"partition":2,"epoch":"10-ab12cd34","offset":10,"chunks":[4,5],"size":99,'
        b'"crc32":1234,"written_at":1734778800000}'
    )


def test_manifest_round_trip_and_errors():
    manifest = Manifest(2, "10-ab", 10, (4, 5), 99, 1234, 1)
    assert decode_manifest(encode_manifest(manifest)) == manifest
    with pytest.raises(ValueError, match="not JSON"):
        decode_manifest(b"{")
    with pytest.raises(ValueError, match="version"):
        decode_manifest(b'{"v": 9}')
    with pytest.raises(ValueError, match="missing"):
        decode_manifest(b'{"v": 1, "partition": 1}')


def test_key_prefixes_cover_a_partitions_keys_and_one_checkpoints_pieces():
    from contract.checkpoints import key_prefix, manifest_key, piece_key

    assert piece_key(3, "7-ab", 2) == b"p3/7-ab/2"
    assert manifest_key(3).startswith(key_prefix(3))
    assert piece_key(3, "7-ab", 2).startswith(key_prefix(3, "7-ab"))
    assert not piece_key(31, "7-ab", 2).startswith(key_prefix(3))
    assert not piece_key(3, "7-abc", 2).startswith(key_prefix(3, "7-ab"))
