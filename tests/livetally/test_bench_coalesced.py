"""The aggregation part's coalesced fill: bundles as ingest's coalescer writes them."""

from __future__ import annotations

from contract.records import split_bundle
from livetally.bench.aggregate import coalesced


def record(partition: int, n: int, count: int):
    return (partition, f"k{n}".encode(), b'{"batch":%d}' % n), count


def test_batches_of_a_partition_share_a_bundle_up_to_the_bound_in_order():
    records = [record(0, 0, 300), record(1, 1, 100), record(0, 2, 200), record(0, 3, 1),
               record(1, 2, 700), record(0, 4, 50)]  # fmt: skip
    out = list(coalesced(records, 500))
    got = [(p, key, split_bundle(value), count) for (p, key, value), count in out]
    assert got == [
        (0, b"k0", [b'{"batch":0}', b'{"batch":2}'], 500),
        (1, b"k1", [b'{"batch":1}'], 100),  # the next one would not fit: 100 + 700 > 500
        (0, b"k3", [b'{"batch":3}', b'{"batch":4}'], 51),
        (1, b"k2", [b'{"batch":2}'], 700),  # larger than the bound: alone
    ]
    assert sum(count for _, count in out) == sum(count for _, count in records)
