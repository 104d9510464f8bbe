"""The stats record: its key, its bytes (as the worker has always written them), decoding,
and the live/stale/offline status judged from it."""

from __future__ import annotations

import pytest

from contract.keys import join_key
from contract.stats import (
    OFFLINE_AFTER_MS,
    STALE_AFTER_MS,
    PartitionStats,
    decode_stats,
    encode_stats,
    feed_status,
    parse_stats,
    parse_stats_key,
    stats_key,
)

SAMPLE = PartitionStats(
    "carnival", "douyin", 3, 1734778800123, 1734778800456, 51, 2, 1734778800000, 50, 49
)


def test_key_and_value_bytes_are_those_already_on_the_topic():
    assert stats_key(SAMPLE) == b"carnival\x1fdouyin\x1f3"
    assert encode_stats(SAMPLE) == (
        b'{"stream":"carnival","platform":"douyin","partition":3,'
        b'"last_event_ts":1734778800123,"last_arrival":1734778800456,"events":51,"rejected":2,'
        b'"recent_as_of":1734778800000,"recent_offline_sessions":50,'
        b'"recent_single_event_offline":49}'
    )
    empty = PartitionStats("carnival", "douyin", 0, None, None, 0, 0)
    assert encode_stats(empty) == (
        b'{"stream":"carnival","platform":"douyin","partition":0,'
        b'"last_event_ts":null,"last_arrival":null,"events":0,"rejected":0,'
        b'"recent_as_of":null,"recent_offline_sessions":0,"recent_single_event_offline":0}'
    )


def test_value_and_key_decode():
    assert decode_stats(encode_stats(SAMPLE)) == SAMPLE
    assert parse_stats_key(stats_key(SAMPLE)) == ("carnival", "douyin", 3)
    with pytest.raises(ValueError, match="stats key"):
        parse_stats_key(join_key("carnival", "douyin"))
    with pytest.raises(ValueError, match="not JSON"):
        decode_stats(b"{")


def test_a_record_from_before_the_churn_figures_decodes_without_them():
    old = b'{"stream":"s","platform":"p","partition":0,"last_arrival":7,"events":1}'
    assert decode_stats(old) == PartitionStats("s", "p", 0, None, 7, 1, 0)


@pytest.mark.parametrize(
    ("age_ms", "status"),
    [
        (0, "live"),
        (29_999, "live"),
        (30_000, "stale"),
        (299_999, "stale"),
        (300_000, "offline"),
        (-5_000, "live"),  # arrival stamped slightly ahead of our clock
    ],
)
def test_status_thresholds(age_ms, status):
    now = 1_000_000_000
    assert feed_status(now - age_ms, now) == status


def test_status_without_any_arrival_is_offline():
    assert feed_status(None, 123) == "offline"


def test_thresholds_are_30_s_and_5_min():
    assert (STALE_AFTER_MS, OFFLINE_AFTER_MS) == (30_000, 300_000)
    assert feed_status(0, 10, stale_after_ms=5, offline_after_ms=20) == "stale"


def test_parse_stats_rejects_missing_fields():
    with pytest.raises(ValueError, match="platform"):
        parse_stats({"stream": "s", "partition": 0})
    rec = parse_stats(
        {
            "stream": "s",
            "platform": "p",
            "partition": 1,
            "last_event_ts": None,
            "last_arrival": 5,
            "events": 2,
            "rejected": 0,
        }
    )
    assert rec == PartitionStats("s", "p", 1, None, 5, 2, 0)


def test_bad_numbers_are_value_errors():
    with pytest.raises(ValueError, match="bad stats record"):
        parse_stats({"stream": "s", "platform": "p", "partition": 0, "events": "many"})
    with pytest.raises(ValueError, match="not an object"):
        parse_stats([1])
