"""The separator of the compacted topics' composite keys (partials, stats), defined once."""

from __future__ import annotations

__all__ = ["KEY_SEP", "join_key", "split_key"]

KEY_SEP = "\x1f"
"""ASCII unit separator: never part of a stream id, a partner id or a number."""


def join_key(*parts: object) -> bytes:
    """A composite record key: the parts' text joined by ``KEY_SEP``, UTF-8 encoded."""
    return KEY_SEP.join(str(part) for part in parts).encode()


def split_key(key: bytes | None, count: int, topic: str) -> list[str]:
    """The ``count`` parts of a composite key; ``ValueError`` (naming ``topic``) otherwise."""
    parts = (key or b"").decode(errors="replace").split(KEY_SEP)
    if len(parts) != count:
        raise ValueError(f"bad {topic} key {key!r}")
    return parts
