"""``livetally send``: an NDJSON file of events posted in batches, and the key it posts with."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from livetally.client.batching import Client
from livetally.client.codec import loads
from livetally.exceptions import LivetallyError

__all__ = ["LineError", "iter_ndjson", "partner_key", "send_file"]


@dataclass(frozen=True, slots=True)
class LineError:
    """A line of an NDJSON file that is not a JSON value."""

    line: int
    detail: str


def iter_ndjson(lines: Iterable[str]) -> Iterator[tuple[int, Any] | LineError]:
    """``(line number, parsed value)`` per non-blank line, or a ``LineError`` for bad JSON."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield number, loads(text)
        except ValueError as exc:
            yield LineError(number, f"not valid JSON: {exc}")


def _batches(
    items: Iterator[tuple[int, Any] | LineError], size: int
) -> Iterator[tuple[list[int], list[Any], list[LineError]]]:
    numbers: list[int] = []
    events: list[Any] = []
    errors: list[LineError] = []
    for item in items:
        if isinstance(item, LineError):
            errors.append(item)
            continue
        numbers.append(item[0])
        events.append(item[1])
        if len(events) >= size:
            yield numbers, events, errors
            numbers, events, errors = [], [], []
    if events or errors:
        yield numbers, events, errors


def partner_key(
    key: str | None, key_file: str | None, environ: Mapping[str, str] | None = None
) -> str:
    """The API key ``livetally send`` posts with: ``--key``, else the first line of
    ``--key-file``, else ``LIVETALLY_KEY``."""
    if key:
        return key
    if key_file:
        try:
            lines = Path(key_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise LivetallyError(
                f"cannot read --key-file {key_file}: {exc.strerror or exc}"
            ) from None
        if not lines or not lines[0].strip():
            raise LivetallyError(f"--key-file {key_file} is empty")
        return lines[0].strip()
    env = os.environ if environ is None else environ
    found = env.get("LIVETALLY_KEY", "").strip()
    if not found:
        raise LivetallyError("no API key: set LIVETALLY_KEY, or pass --key-file FILE (or --key)")
    return found


def send_file(
    path: str,
    *,
    key: str,
    url: str | None = None,
    out: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """Post an NDJSON file of events (``-`` = stdin) in batches of 500; report what was refused.

    Returns 0 when every event was accepted, 1 when some were rejected.
    """
    if url is None:
        from contract.ingest_address import IngestAddress

        url = IngestAddress.from_env().base_url
    printer = out or sys.stdout
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    accepted = 0
    rejections: list[tuple[int, str, str]] = []
    try:
        handle: TextIO = sys.stdin if path == "-" else open(path, encoding="utf-8")
    except OSError as exc:
        raise LivetallyError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        with Client(url, key, batch_size=500, transport=transport) as client:
            for numbers, events, errors in _batches(iter_ndjson(handle), 500):
                rejections.extend((e.line, "invalid_json", e.detail) for e in errors)
                if not events:
                    continue
                result = client.post_batch(events)
                accepted += result.accepted
                for rejected in result.rejected:
                    line = numbers[rejected.index] if 0 <= rejected.index < len(numbers) else 0
                    rejections.append((line, rejected.code, rejected.detail))
    except UnicodeDecodeError:
        raise LivetallyError(f"{path} is not UTF-8 text") from None
    except httpx.InvalidURL as exc:
        raise LivetallyError(f"bad ingest URL {url!r}: {exc}") from None
    finally:
        if handle is not sys.stdin:
            handle.close()
    rejections.sort()
    print(f"accepted {accepted}, rejected {len(rejections)}", file=printer)
    for line, code, detail in rejections:
        print(f"line {line}: {code}: {detail}", file=printer)
    return 0 if not rejections else 1
