"""The dead-letter record: a record or event the worker refused, with the reason."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

__all__ = ["DeadLetter", "deadletter_key", "decode_dead_letter", "encode_dead_letter"]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record or event the worker refused, with the reason."""

    partition: int
    offset: int
    """Where the refused record is in the events topic."""
    index: int | None
    """The refused event's place in the record, or None when the whole record was refused."""
    code: str
    detail: str
    value: str
    """The refused record or event as text (at most 2,000 characters)."""


def deadletter_key(letter: DeadLetter) -> bytes:
    """``<partition>/<offset>``: the events record the letter is about."""
    return f"{letter.partition}/{letter.offset}".encode()


def encode_dead_letter(letter: DeadLetter) -> bytes:
    """The dead-letter record's value."""
    return orjson.dumps(
        {
            "partition": letter.partition,
            "offset": letter.offset,
            "index": letter.index,
            "code": letter.code,
            "detail": letter.detail,
            "value": letter.value,
        }
    )


def decode_dead_letter(value: bytes) -> DeadLetter:
    """Parse a dead-letter record; ``ValueError`` says what is wrong with it."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"dead letter is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("dead letter is not an object")
    try:
        index = doc["index"]
        return DeadLetter(
            partition=int(doc["partition"]),
            offset=int(doc["offset"]),
            index=None if index is None else int(index),
            code=str(doc["code"]),
            detail=str(doc["detail"]),
            value=str(doc["value"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"dead letter field missing or malformed: {exc!r}") from None
