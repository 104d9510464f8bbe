"""Hostile callback requests and query strings, for the dashboard's fuzz tests.

The callbacks are read from the app itself (``/_dash-dependencies``), so a callback added
later is fuzzed too. Values are drawn from a seeded ``random.Random``: the same seed gives
the same requests.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

EXTREME_INTS = [0, -1, 1, 2**31, 2**53 + 1, 2**63, -(2**63), 10**30, -(10**30), 5 * 10**8]
PLAUSIBLE_KEYS = ("last", "drawn_at", "n", "from", "to", "start", "key", "version")


def hostile_value(rnd: random.Random, now: int, depth: int = 0) -> Any:
    """One value a crafted request could carry: huge and negative numbers, floats, long
    strings, nested containers, and dicts with plausible keys set to extremes."""
    kind = rnd.randrange(12 if depth < 3 else 8)
    if kind == 0:
        return None
    if kind == 1:
        return rnd.choice(EXTREME_INTS)
    if kind == 2:
        return now - rnd.choice([0, 1, 60, 300_000, 5 * 10**8, 10**12, -(10**9)])
    if kind == 3:
        return rnd.choice([1e308, -1e308, 0.5, -0.0, 1.5e-300, float(now) + 0.5])
    if kind == 4:
        return rnd.choice([True, False])
    if kind == 5:
        return rnd.choice(["", "--5", "carnival", "zh", "en", "lines", "stacked", "1s", "csv", "/"])
    if kind == 6:
        return rnd.choice(["x" * 100_000, "中" * 20_000, "=HYPERLINK(1)", "../" * 1000, "\x00"])
    if kind == 7:
        return str(rnd.choice(EXTREME_INTS)) * rnd.choice([1, 300])
    if kind == 8:
        return [hostile_value(rnd, now, depth + 1) for _ in range(rnd.randrange(4))]
    if kind == 9:
        return [rnd.choice(EXTREME_INTS)] * rnd.choice([10, 10_000])
    if kind == 10:
        return {k: hostile_value(rnd, now, depth + 1) for k in rnd.sample(PLAUSIBLE_KEYS, 4)}
    return {
        "last": now - rnd.choice([1, 300_000, 5 * 10**8]),
        "n": rnd.choice(EXTREME_INTS),
        "drawn_at": now,
        "key": hostile_value(rnd, now, depth + 1),
        "version": 1,
    }


def _outputs(output: str) -> Any:
    if output.startswith(".."):
        parts = output[2:-2].split("...")
    else:
        parts = [output]
    pairs = [p.split("@")[0].rsplit(".", 1) for p in parts]
    listed = [{"id": i, "property": prop} for i, prop in pairs]
    return listed if output.startswith("..") else listed[0]


def callback_requests(
    dependencies: list[dict[str, Any]], rnd: random.Random, now: int, per_callback: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``per_callback`` hostile bodies for every server-side callback, as (output, body)."""
    for dep in dependencies:
        if dep.get("clientside_function"):
            continue
        for _ in range(per_callback):
            inputs = [
                {"id": i["id"], "property": i["property"], "value": hostile_value(rnd, now)}
                for i in dep["inputs"]
            ]
            state = [
                {"id": s["id"], "property": s["property"], "value": hostile_value(rnd, now)}
                for s in dep["state"]
            ]
            changed = rnd.choice(inputs)
            outputs = _outputs(dep["output"])
            if rnd.random() < 0.2:  # a malformed envelope now and then
                outputs = rnd.choice([{}, [], [{}], {"id": 5}, hostile_value(rnd, now)])
            body = {
                "output": dep["output"],
                "outputs": outputs,
                "inputs": inputs,
                "state": state,
                "changedPropIds": [f"{changed['id']}.{changed['property']}"],
            }
            yield dep["output"], body


def callback_request(
    dependencies: list[dict[str, Any]], output: str, values: list[Any]
) -> dict[str, Any]:
    """The body a browser posts to run the callback that sets ``output`` (``id.property``)
    with these input values, in the callback's order, and every state None."""
    dep = next(d for d in dependencies if output in d["output"])
    inputs = [{**i, "value": v} for i, v in zip(dep["inputs"], values, strict=True)]
    return {
        "output": dep["output"],
        "outputs": _outputs(dep["output"]),
        "inputs": inputs,
        "state": [{**s, "value": None} for s in dep["state"]],
        "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
    }


QUERY_NAMES = ("at", "from", "to", "resolution", "format", "lang", "limit", "token")
QUERY_VALUES = [
    "--5",
    "5" * 5000,
    "1e999",
    "NaN",
    "nan",
    "inf",
    "",
    " ",
    "-0",
    "0",
    "-9223372036854775809",
    "99999999999999999999",
    "2024-12-21T19:30:00+08:00",
    "2024-12-21T19:30:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "1s",
    "1h",
    "csv",
    "xlsx",
    "zh",
    "en",
    "%00",
    "\u0000",
    "中文",
    "=1+1",
]
API_PATHS = ("summary", "series", "export", "report", "alerts")
