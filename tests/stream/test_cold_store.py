"""The cold store behaves as a dict of str to bytes, through every way entries come and go."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.cold_store import ColdStore

keys = st.text(st.characters(codec="utf-8", exclude_characters="\n"), min_size=1, max_size=6)
values = st.binary(max_size=20)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("extend"), st.dictionaries(keys, values, max_size=8)),
        st.tuples(st.just("pop"), keys),
        st.tuples(st.just("compact"), st.none()),
        st.tuples(st.just("reload"), st.none()),
    ),
    max_size=40,
)


def check(store: ColdStore, model: dict[str, bytes]) -> None:
    assert len(store) == len(model)
    assert list(store.items()) == list(model.items())  # in the order they were added
    assert list(store.keys()) == list(model)
    for key, value in model.items():
        assert store.get(key) == value and key in store
    leading = store.leading_i64()
    for (key, value), first in zip(store.items(), leading.tolist(), strict=True):
        want = int.from_bytes(value[:8], "little" if np.little_endian else "big", signed=True)
        assert first == (want if len(value) >= 8 else 0), key
    positions = np.arange(len(model))[::2]
    assert store.keys_at(positions) == [key for key, _ in store.items()][::2]


@settings(max_examples=200, deadline=None)
@given(ops, st.lists(keys, max_size=5))
def test_the_store_holds_what_a_dict_would(steps, absent):
    store = ColdStore()
    model: dict[str, bytes] = {}
    for op, arg in steps:
        if op == "extend":
            new = {k: v for k, v in arg.items() if k not in model}
            store.extend(list(new), list(new.values()))
            model.update(new)
        elif op == "pop":
            assert store.pop(arg) == model.pop(arg, None)
        elif op == "compact":
            store.compact()
            assert store.dead == 0
        else:
            count, ids, data, lengths = store.raw()
            assert count == len(model) == len(lengths)
            store = ColdStore.from_raw(ids, data, lengths)
        if op != "pop":
            assert store.dead <= len(store)
        check(store, model)
    for key in absent:
        if key not in model:
            assert store.get(key) is None and store.pop(key) is None and key not in store


def test_ids_with_the_same_hash_are_told_apart():
    # Many keys make equal 64-bit hashes impossible to force; equal hashes are exercised by
    # a store whose index holds a taken-out entry and a live one for the same key.
    store = ColdStore()
    store.extend(["a", "b"], [b"1", b"2"])
    assert store.pop("a") == b"1"
    store.extend(["a"], [b"3"])
    assert store.get("a") == b"3" and store.dead == 1
    assert dict(store.items()) == {"b": b"2", "a": b"3"}


def test_taken_out_entries_are_dropped_once_they_outnumber_the_live_ones():
    store = ColdStore()
    store.extend([f"k{n}" for n in range(10)], [bytes([n]) * 9 for n in range(10)])
    for n in range(6):
        store.pop(f"k{n}")
    assert store.dead == 6
    store.extend(["new"], [b"x"])
    assert store.dead == 0 and len(store) == 5
    assert store.nbytes < 200


@pytest.mark.parametrize(
    ("ids", "data", "lengths", "message"),
    [
        (b"a\nb", b"x", [1], "number of ids"),
        (b"a", b"xy", [1], "do not add up"),
        (b"a", b"xy", [3, -1], "do not add up"),
        (b"", b"x", [], "without entries"),
    ],
)
def test_parts_that_do_not_fit_together_are_refused(ids, data, lengths, message):
    with pytest.raises(ValueError, match=message):
        ColdStore.from_raw(ids, data, np.array(lengths, dtype=np.int64))
