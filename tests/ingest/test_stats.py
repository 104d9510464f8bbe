"""Per-partner counts of accepted events, rejections by code and unexpected errors."""

from __future__ import annotations

import sys
import threading

from hypothesis import given
from hypothesis import strategies as st

from ingest.stats import IngestStats, PartnerTotals


def test_a_new_stats_object_has_seen_nobody():
    stats = IngestStats()
    assert stats.totals() == {}
    assert stats.unexpected_total == 0


def test_requests_add_up_per_partner_and_per_code():
    stats = IngestStats()
    stats.record("douyu", 5, ["bad_value", "unknown_stream"])
    stats.record("douyu", 2, ["bad_value"])
    stats.record("huya", 1, [])
    assert stats.totals() == {
        "douyu": PartnerTotals(7, {"bad_value": 2, "unknown_stream": 1}, 0),
        "huya": PartnerTotals(1, {}, 0),
    }


def test_a_request_that_accepted_nothing_still_makes_its_partner_seen():
    stats = IngestStats()
    stats.record("douyu", 0, [])
    assert stats.totals() == {"douyu": PartnerTotals(0, {}, 0)}


def test_rejected_codes_may_come_from_a_generator():
    stats = IngestStats()
    stats.record("douyu", 0, (code for code in ["a", "b", "a"]))
    assert stats.totals()["douyu"].rejected == {"a": 2, "b": 1}


def test_an_unexpected_error_of_an_unknown_partner_counts_only_in_the_total():
    stats = IngestStats()
    stats.record_unexpected(None)
    stats.record_unexpected("douyu")
    stats.record_unexpected("douyu")
    assert stats.unexpected_total == 3
    assert stats.totals() == {"douyu": PartnerTotals(0, {}, 2)}


def test_totals_are_a_copy_the_caller_may_change():
    stats = IngestStats()
    stats.record("douyu", 1, ["bad_value"])
    stats.totals()["douyu"].rejected["bad_value"] = 99
    assert stats.totals()["douyu"].rejected == {"bad_value": 1}


def test_one_partner_s_counts_as_json_with_codes_sorted_and_a_total():
    stats = IngestStats()
    stats.record("douyu", 3, ["unknown_stream", "bad_value", "unknown_stream"])
    stats.record_unexpected("douyu")
    doc = stats.for_partner("douyu")
    assert doc == {
        "partner": "douyu",
        "accepted": 3,
        "rejected": {"bad_value": 1, "unknown_stream": 2},
        "rejected_total": 3,
        "unexpected_errors": 1,
    }
    assert list(doc["rejected"]) == ["bad_value", "unknown_stream"]


def test_a_partner_never_seen_has_zero_counts_and_is_not_added():
    stats = IngestStats()
    assert stats.for_partner("huya") == {
        "partner": "huya",
        "accepted": 0,
        "rejected": {},
        "rejected_total": 0,
        "unexpected_errors": 0,
    }
    assert stats.totals() == {}


def test_counts_from_many_threads_are_not_lost():
    stats = IngestStats()

    def post() -> None:
        for _ in range(2000):
            stats.record("douyu", 1, ["bad_value"])
            stats.record_unexpected("douyu")

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so that unlocked updates collide
    try:
        threads = [threading.Thread(target=post) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert stats.totals()["douyu"] == PartnerTotals(16_000, {"bad_value": 16_000}, 16_000)
    assert stats.unexpected_total == 16_000


requests = st.lists(
    st.tuples(
        st.sampled_from(["douyu", "huya", "cctv"]),
        st.integers(0, 50),
        st.lists(st.sampled_from(["bad_value", "unknown_stream", "too_late"]), max_size=5),
    ),
    max_size=30,
)


@given(requests=requests, unexpected=st.lists(st.sampled_from(["douyu", "bilibili", None])))
def test_the_counts_agree_with_summing_every_request(requests, unexpected):
    stats = IngestStats()
    for partner, accepted, codes in requests:
        stats.record(partner, accepted, codes)
    for partner in unexpected:
        stats.record_unexpected(partner)
    seen = {p for p, _, _ in requests} | {p for p in unexpected if p is not None}
    totals = stats.totals()
    assert set(totals) == seen
    for partner in seen:
        mine = [r for r in requests if r[0] == partner]
        rejected: dict[str, int] = {}
        for _, _, codes in mine:
            for code in codes:
                rejected[code] = rejected.get(code, 0) + 1
        errors = unexpected.count(partner)
        assert totals[partner] == PartnerTotals(sum(a for _, a, _ in mine), rejected, errors)
        doc = stats.for_partner(partner)
        assert (doc["accepted"], doc["rejected"], doc["rejected_total"]) == (
            totals[partner].accepted,
            rejected,
            sum(rejected.values()),
        )
    assert stats.unexpected_total == len(unexpected)
