"""Reading a request body: its media type, its encoding, and the size cap (gzip-bomb safe)."""

from __future__ import annotations

import zlib
from typing import Literal

from ingest.exceptions import BodyTooLarge, MalformedBody, UnsupportedMediaType

__all__ = ["BodyKind", "BodyReader", "body_kind", "is_gzip"]

BodyKind = Literal["json", "ndjson"]
_MEDIA_TYPES: dict[str, BodyKind] = {
    "application/json": "json",
    "application/x-ndjson": "ndjson",
}
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_COMPRESSED_SLACK = 64 * 1024
"""Gzip can make incompressible data slightly larger; allow for that much more input."""


def body_kind(content_type: str | None) -> BodyKind:
    """The body format named by a Content-Type header; ``UnsupportedMediaType`` otherwise."""
    if not content_type:
        raise UnsupportedMediaType(
            "Content-Type is missing; send application/json or application/x-ndjson"
        )
    media, *params = content_type.split(";")
    kind = _MEDIA_TYPES.get(media.strip().lower())
    if kind is None:
        raise UnsupportedMediaType(
            f"Content-Type {media.strip()[:80]!r} is not supported; "
            "send application/json or application/x-ndjson"
        )
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
            if charset not in ("utf-8", "utf8"):
                raise UnsupportedMediaType(
                    f"charset {charset[:40]!r} is not supported; bodies must be UTF-8"
                )
    return kind


def is_gzip(content_encoding: str | None) -> bool:
    """True for ``gzip``, False for none or ``identity``; ``UnsupportedMediaType`` otherwise."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return False
    if encoding in ("gzip", "x-gzip"):
        return True
    raise UnsupportedMediaType(
        f"Content-Encoding {encoding[:40]!r} is not supported; use gzip or none",
        code="unsupported_encoding",
    )


class BodyReader:
    """Collects body chunks, inflating gzip incrementally and never holding more than the cap.

    ``feed`` raises ``BodyTooLarge`` as soon as the (decompressed) body passes ``max_bytes``,
    so a gzip bomb costs at most ``max_bytes`` of memory.
    """

    def __init__(self, max_bytes: int, *, gzip: bool) -> None:
        self._max = max_bytes
        self._parts: list[bytes] = []
        self._size = 0
        self._received = 0
        self._inflater = zlib.decompressobj(_GZIP_WBITS) if gzip else None

    def feed(self, chunk: bytes) -> None:
        """Add the next chunk of the body as received."""
        if not chunk:
            return
        if self._inflater is None:
            self._append(chunk)
            return
        self._received += len(chunk)
        if self._received > self._max + _COMPRESSED_SLACK:
            raise BodyTooLarge(f"the compressed body is over {self._max} bytes")
        self._inflate(chunk)

    def _inflate(self, data: bytes) -> None:
        assert self._inflater is not None  # noqa: S101 - only called for gzip bodies
        while data:
            if self._inflater.eof:  # another gzip member follows (RFC 1952 allows several)
                self._inflater = zlib.decompressobj(_GZIP_WBITS)
            room = self._max - self._size + 1
            try:
                out = self._inflater.decompress(data, room)
            except zlib.error as exc:
                raise MalformedBody(f"the gzip data is broken: {exc}", code="bad_gzip") from None
            self._append(out)
            # Past here the output fitted, so all input was consumed unless a member ended.
            data = self._inflater.unused_data if self._inflater.eof else b""

    def _append(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._max:
            raise BodyTooLarge(f"the body is over {self._max} bytes after decompression")
        self._parts.append(data)

    def finish(self) -> bytes:
        """The whole (decompressed) body; raise if the gzip data ended early."""
        if self._inflater is not None and not self._inflater.eof:
            raise MalformedBody("the gzip data is truncated", code="bad_gzip")
        return b"".join(self._parts)
