"""JSON in and out of the SDK: orjson when it is installed, the standard library otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

try:
    import orjson

    _fast_dumps: Callable[[Any], bytes] | None = orjson.dumps
    _fast_loads: Callable[[str | bytes], Any] | None = orjson.loads
except ImportError:  # the SDK needs httpx only
    _fast_dumps = _fast_loads = None

__all__ = ["dumps", "loads"]


def dumps(doc: Any) -> bytes:
    """``doc`` as compact JSON; ``TypeError``/``ValueError`` if it is not JSON."""
    if _fast_dumps is not None:
        return _fast_dumps(doc)
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def loads(data: str | bytes) -> Any:
    """Parsed JSON; ``ValueError`` if it is not JSON."""
    if _fast_loads is not None:
        return _fast_loads(data)
    return json.loads(data)
