"""Summaries, statuses, series buckets and time parsing, computed on hand-built chunks."""

from __future__ import annotations

import pytest

from contract.series import sum_steps
from contract.stats import PartitionStats
from dashboard.exceptions import BadParameter, UnknownStream
from dashboard.model import (
    Figures,
    aggregate_stats,
    bucket_series,
    parse_instant,
    rfc3339,
    stream_series,
    summarize,
)
from tests.dashboard.builders import T0, build, chunk


def test_two_partitions_of_one_partner_are_summed(sample_snapshot):
    summary = summarize(sample_snapshot, "carnival", T0 + 3, (T0 + 3) * 1000)
    douyin = {p.id: p for p in summary.partners}["douyin"].figures
    # partition 0: +3 at T0; partition 1: +4 at T0+2
    assert douyin == Figures(7, 7, T0 + 2, 7, 6)
    # bili +5 at T0+1
    assert summary.total == Figures(12, 12, T0 + 2, 12, 11)


def test_peak_is_the_earliest_second_it_was_reached():
    snap = build(
        [
            chunk("douyin", 0, {T0: (5, 5, 5), T0 + 3: (-2, 0, 0), T0 + 6: (2, 1, 1)}),
        ]
    )
    summary = summarize(snap, "carnival", T0 + 30, 0)
    assert summary.total.peak_concurrent == 5
    assert summary.total.peak_at == T0


def test_peak_only_counts_seconds_up_to_the_evaluated_one():
    snap = build([chunk("douyin", 0, {T0: (2, 2, 2), T0 + 10: (8, 8, 8)})])
    assert summarize(snap, "carnival", T0 + 9, 0).total.peak_concurrent == 2
    assert summarize(snap, "carnival", T0 + 10, 0).total.peak_at == T0 + 10


def test_peak_at_is_none_when_nobody_ever_watched():
    snap = build([chunk("douyin", 0, {T0: (0, 1, 1)})])
    total = summarize(snap, "carnival", T0 + 1, 0).total
    assert (total.peak_concurrent, total.peak_at, total.views) == (0, None, 1)


def test_totals_equal_sum_steps_of_all_partner_diffs(sample_snapshot):
    chunks = [
        chunk("douyin", 0, {T0: (3, 3, 2), T0 + 5: (-1, 0, 0)}),
        chunk("douyin", 1, {T0 + 2: (4, 4, 4), T0 + 10: (-2, 1, 1)}),
        chunk("bili", 0, {T0 + 1: (5, 5, 5), T0 + 20: (-5, 0, 0)}),
    ]
    expected = sum_steps([c.seconds for c in chunks])
    total = sample_snapshot.totals["carnival"]
    assert total.seconds == expected.seconds
    assert total.values == expected.values


def test_a_newer_chunk_for_the_same_key_replaces_the_old_one():
    snap = build(
        [
            chunk("douyin", 0, {T0: (3, 3, 3)}),
            chunk("douyin", 0, {T0 + 1: (1, 1, 1)}, minute=T0 // 60 * 60),
        ]
    )
    summary = summarize(snap, "carnival", T0 + 2, 0)
    assert summary.total == Figures(1, 1, T0 + 1, 1, 1)
    assert summarize(snap, "carnival", T0, 0).total == Figures()


def test_stats_take_newest_times_and_sum_events_over_partitions():
    merged = aggregate_stats(
        [
            PartitionStats("s", "p", 0, 100, 150, 3, 1),
            PartitionStats("s", "p", 1, 200, 120, 4, 0),
            PartitionStats("s", "p", 2, None, None, 0, 2),
        ]
    )["s"]["p"]
    assert (merged.last_event_ts, merged.last_arrival, merged.events, merged.rejected) == (
        200,
        150,
        7,
        3,
    )


def test_summary_statuses_use_arrival_time(sample_snapshot):
    now_ms = (T0 + 45) * 1000  # douyin arrived 33 s ago, bili 25 s ago
    statuses = {p.id: p.status for p in summarize(sample_snapshot, "carnival", T0, now_ms).partners}
    assert statuses == {"douyin": "stale", "bili": "live", "quiet": "offline"}


def test_registered_partner_without_data_is_listed_with_zeros(sample_snapshot):
    quiet = {p.id: p for p in summarize(sample_snapshot, "carnival", T0 + 5, 0).partners}["quiet"]
    assert quiet.figures == Figures()
    assert quiet.last_event_ts is None


def test_unknown_stream_raises():
    with pytest.raises(UnknownStream):
        summarize(build([]), "nope", T0, 0)


@pytest.mark.parametrize(
    ("text", "second"),
    [
        (str(T0 * 1000 + 999), T0),
        (str(T0 * 1000), T0),
        ("2024-12-21T19:00:00.999+08:00", T0),
        ("2024-12-21T11:00:00Z", T0),
        ("2024-12-21T19:00:01", T0 + 1),  # no offset: the stream's zone
    ],
)
def test_at_is_floored_to_the_whole_second(text, second):
    assert parse_instant(text, "Asia/Shanghai") == second


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2024-13-01T00:00:00Z",
        "1" * 20,
        "9999999999999999",  # year ~318,000: cannot be written back as RFC 3339
        "9999-12-31T23:59:59-14:00",  # past year 9999 once in UTC
        "-5000",
        "１２３",  # full-width digits are digits to str.isdigit, not to us
    ],
)
def test_bad_at_is_a_bad_parameter(text):
    with pytest.raises(BadParameter, match="'at'"):
        parse_instant(text, "Asia/Shanghai")


def test_rfc3339_is_in_the_stream_time_zone():
    assert rfc3339(T0, "Asia/Shanghai") == "2024-12-21T19:00:00+08:00"
    assert rfc3339(T0, "UTC") == "2024-12-21T11:00:00+00:00"


def test_buckets_report_end_value_peak_and_new_views():
    steps = sum_steps([{T0: (2, 2, 2), T0 + 3: (5, 5, 4), T0 + 7: (-6, 1, 1), T0 + 12: (1, 1, 0)}])
    buckets = bucket_series(steps, T0, T0 + 14, 10)
    assert [
        (b.start, b.concurrent, b.peak_concurrent, b.views, b.uniques, b.new_views) for b in buckets
    ] == [
        (T0, 1, 7, 8, 7, 8),
        (T0 + 10, 2, 2, 9, 7, 1),
    ]


def test_bucket_peak_counts_the_value_carried_into_the_bucket():
    steps = sum_steps([{T0: (9, 9, 9), T0 + 15: (-9, 0, 0)}])
    second = bucket_series(steps, T0, T0 + 19, 10)[1]
    assert (second.peak_concurrent, second.concurrent, second.new_views) == (9, 0, 0)


def test_buckets_start_aligned_to_their_width():
    steps = sum_steps([{T0 + 65: (1, 1, 1)}])
    buckets = bucket_series(steps, T0 + 65, T0 + 200, 60)
    assert [b.start for b in buckets] == [T0 + 60, T0 + 120, T0 + 180]
    assert buckets[0].new_views == 1


def test_series_defaults_to_the_first_data_second(sample_snapshot):
    series = stream_series(
        sample_snapshot, "carnival", width=1, start=None, end=T0 + 2, max_buckets=100
    )
    assert [b.concurrent for b in series.total] == [3, 8, 12]
    assert set(series.platforms) == {"bili", "douyin"}


def test_series_refuses_too_many_buckets(sample_snapshot):
    with pytest.raises(BadParameter, match="resolution"):
        stream_series(sample_snapshot, "carnival", width=1, start=T0, end=T0 + 200, max_buckets=100)


def test_series_refuses_from_after_to(sample_snapshot):
    with pytest.raises(BadParameter, match="from"):
        stream_series(sample_snapshot, "carnival", width=1, start=T0 + 5, end=T0, max_buckets=9)


def test_streams_are_ordered_most_recent_first():
    snap = build(
        [
            chunk("douyin", 0, {T0: (1, 1, 1)}, stream="old"),
            chunk("douyin", 0, {T0 + 600: (1, 1, 1)}, stream="new"),
        ]
    )
    assert [s.id for s in snap.streams()] == ["new", "old", "carnival"]


def test_a_stream_lists_its_limited_partners_and_those_that_sent_to_it():
    from contract.registry import Partner, Registry, Stream

    registry = Registry.of(
        [
            Stream("carnival", "嘉年华"),
            Stream("encore", "返场"),
            Partner("expected", "预期", streams=("carnival",)),
            Partner("elsewhere", "别处", streams=("encore",)),
            Partner("anywhere", "任意"),  # may post anywhere: listed where it has sent
            Partner("sender", "已发送"),
            Partner("revoked", "已吊销", streams=("carnival",), revoked=True),
        ]
    )
    snapshot = build([chunk("sender", 0, {T0: (1, 1, 1)})], reg=registry)
    assert snapshot.partner_ids("carnival") == ["expected", "sender"]
    assert snapshot.partner_ids("encore") == ["elsewhere"]
