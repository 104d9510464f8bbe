"""Merging partials chunks: per partner and per stream, replaced chunks subtracted."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from contract.partials import Chunk
from contract.series import Numbers, PartialsMerge, PlatformDiffs, sum_steps

T0 = 1_734_778_800


def test_a_newer_chunk_replaces_its_slot_in_partner_and_total():
    merge = PartialsMerge()
    merge.put(Chunk("s", "a", 0, T0 // 60, {T0: (4, 4, 4)}))
    merge.put(Chunk("s", "b", 0, T0 // 60, {T0: (1, 1, 1)}))
    merge.put(Chunk("s", "a", 0, T0 // 60, {T0 + 1: (2, 2, 2)}))
    assert merge.partners[("s", "a")].steps().at(T0 + 1) == Numbers(2, 2, 2)
    assert merge.totals["s"].steps().at(T0) == Numbers(1, 1, 1)
    assert merge.totals["s"].steps().at(T0 + 1) == Numbers(3, 3, 3)


diffs = st.tuples(*[st.integers(-3, 3)] * 3)
chunks = st.lists(
    st.builds(
        Chunk,
        stream=st.just("s"),
        platform=st.sampled_from(["a", "b", "c"]),
        partition=st.integers(0, 2),
        minute=st.integers(0, 2),
        seconds=st.dictionaries(st.integers(0, 179), diffs, max_size=5),
    ),
    max_size=30,
)


@given(chunks)
def test_the_total_is_the_sum_of_the_partners_newest_chunks(puts):
    merge = PartialsMerge()
    newest: dict[tuple[str, int, int], Chunk] = {}
    for chunk in puts:
        merge.put(chunk)
        newest[(chunk.platform, chunk.partition, chunk.minute)] = chunk
    expected = sum_steps([c.seconds for c in newest.values()])
    total = merge.totals["s"].steps() if puts else sum_steps([])
    assert total == expected
    partner_sum = sum_steps([d.diffs() for d in merge.partners.values()])
    assert partner_sum == expected


def test_platform_diffs_drop_seconds_that_cancel_out():
    diffs = PlatformDiffs()
    diffs.put(Chunk("s", "a", 0, 0, {5: (1, 1, 1)}))
    diffs.put(Chunk("s", "a", 1, 0, {5: (-1, -1, -1)}))
    assert diffs.diffs() == {}
    assert diffs.steps().seconds == []
