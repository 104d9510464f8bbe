"""The registry a list of written records makes, as the compacted topic would: a later
record replaces an earlier one with the same key, a key (a tombstone) deletes it."""

from __future__ import annotations

from collections.abc import Iterable

from contract.registry import Item, Registry, record_key


def registry_of(written: Iterable[Item | str]) -> Registry:
    """The registry of ``written``: records, and ``str`` keys standing for tombstones."""
    current: dict[str, Item] = {}
    for item in written:
        if isinstance(item, str):
            current.pop(item, None)
        else:
            current[record_key(item)] = item
    return Registry.of(current.values())
