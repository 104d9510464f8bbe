"""Reading bodies: media types, encodings, the size cap and gzip bombs."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from ingest.body import BodyReader, body_kind, is_gzip
from ingest.exceptions import BodyTooLarge, MalformedBody, UnsupportedMediaType

MiB = 1024 * 1024


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("application/json", "json"),
        ("Application/JSON; charset=UTF-8", "json"),
        ("application/x-ndjson", "ndjson"),
        ('application/x-ndjson; charset="utf-8"', "ndjson"),
    ],
)
def test_supported_content_types_name_their_format(header, kind):
    assert body_kind(header) == kind


@pytest.mark.parametrize(
    "header", [None, "", "text/plain", "application/xml", "application/json; charset=latin-1"]
)
def test_other_content_types_are_unsupported(header):
    with pytest.raises(UnsupportedMediaType):
        body_kind(header)


@pytest.mark.parametrize(("header", "gz"), [(None, False), ("identity", False), ("GZIP", True)])
def test_gzip_and_identity_encodings_are_read(header, gz):
    assert is_gzip(header) is gz


@pytest.mark.parametrize("header", ["br", "deflate", "gzip, br"])
def test_other_encodings_are_unsupported_with_their_own_code(header):
    with pytest.raises(UnsupportedMediaType) as raised:
        is_gzip(header)
    assert raised.value.code == "unsupported_encoding"


def feed_in_chunks(reader: BodyReader, data: bytes, size: int = 65536) -> bytes:
    for start in range(0, len(data), size):
        reader.feed(data[start : start + size])
    return reader.finish()


def test_plain_body_up_to_the_cap_is_returned_whole():
    data = b"x" * MiB
    assert feed_in_chunks(BodyReader(MiB, gzip=False), data) == data


def test_plain_body_one_byte_over_the_cap_is_too_large():
    with pytest.raises(BodyTooLarge):
        feed_in_chunks(BodyReader(MiB, gzip=False), b"x" * (MiB + 1))


def test_gzip_body_is_inflated_incrementally():
    data = b'{"events": []}' * 1000
    assert feed_in_chunks(BodyReader(MiB, gzip=True), gzip.compress(data), size=7) == data


def test_gzip_body_whose_inflated_size_passes_the_cap_is_too_large():
    with pytest.raises(BodyTooLarge):
        feed_in_chunks(BodyReader(MiB, gzip=True), gzip.compress(b"a" * (MiB + 1)))


def test_gzip_bomb_never_allocates_much_more_than_the_cap():
    bomb = gzip.compress(b"\0" * (40 * MiB), compresslevel=9)
    assert len(bomb) < MiB  # a real bomb: small on the wire
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            feed_in_chunks(BodyReader(MiB, gzip=True), bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MiB


def test_concatenated_gzip_members_are_all_read():
    data = gzip.compress(b"abc") + gzip.compress(b"def")
    assert feed_in_chunks(BodyReader(MiB, gzip=True), data, size=5) == b"abcdef"


def test_truncated_gzip_is_malformed():
    with pytest.raises(MalformedBody) as raised:
        feed_in_chunks(BodyReader(MiB, gzip=True), gzip.compress(b"x" * 1000)[:-10])
    assert raised.value.code == "bad_gzip"


def test_data_that_is_not_gzip_is_malformed():
    with pytest.raises(MalformedBody) as raised:
        feed_in_chunks(BodyReader(MiB, gzip=True), b'{"events": []}')
    assert raised.value.code == "bad_gzip"


def test_empty_gzip_body_is_malformed():
    with pytest.raises(MalformedBody):
        BodyReader(MiB, gzip=True).finish()


def test_huge_compressed_input_is_refused_before_inflating_it_all():
    reader = BodyReader(1024, gzip=True)
    stored = zlib.compressobj(0, zlib.DEFLATED, 31)  # level 0: output as large as input
    data = stored.compress(b"y" * 500_000) + stored.flush()
    with pytest.raises(BodyTooLarge):
        feed_in_chunks(reader, data)
