"""The seeded audience model: totals, time order and the shape of every session."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest

from livetally.demo.audience import AudienceModel, AudienceParams, arrival_weights
from livetally.demo.carnival import DURATION_S, PARTNERS

SCALE = 0.002


@pytest.fixture(scope="module")
def run():
    model = AudienceModel(AudienceParams(scale=SCALE, seed=7))
    events = list(model.events())
    return model, events


def test_same_seed_same_events_other_seed_other_events():
    def first(seed):
        gen = AudienceModel(AudienceParams(scale=0.001, seed=seed)).events()
        return list(itertools.islice(gen, 3000))

    assert first(1) == first(1)
    assert first(1) != first(2)


def test_total_sessions_is_near_the_scaled_target(run):
    model, events = run
    target = round(1_050_000 * SCALE)
    assert abs(model.sessions_started - target) / target < 0.05
    joins = sum(1 for _, _, e in events if e["type"] == "join")
    reports_sessions = max(e["cumulative"] for _, _, e in events if e["type"] == "count")
    assert joins + reports_sessions == model.sessions_started


def test_events_come_in_time_order_within_the_broadcast(run):
    _, events = run
    offsets = [offset for offset, _, _ in events]
    assert offsets == sorted(offsets)
    assert offsets[0] >= 0 and offsets[-1] <= DURATION_S * 1000
    assert all("ts" not in e for _, _, e in events)


def test_every_session_joins_beats_every_10s_and_leaves_at_most_once_last(run):
    _, events = run
    sessions = defaultdict(list)
    platform_of = {}
    for offset, platform, event in events:
        if event["type"] != "count":
            sessions[event["session_id"]].append((offset, event))
            assert platform_of.setdefault(event["session_id"], platform) == platform
    leaves = 0
    for timeline in sessions.values():
        kinds = [e["type"] for _, e in timeline]
        assert kinds[0] == "join"
        assert kinds.count("join") == 1
        assert "leave" not in kinds[:-1]
        leaves += kinds[-1] == "leave"
        beats = [t for t, e in timeline if e["type"] != "leave"]
        assert all(b - a == 10_000 for a, b in itertools.pairwise(beats))
        if kinds[-1] == "leave":
            assert 0 <= timeline[-1][0] - beats[-1] <= 10_000
    share = leaves / len(sessions)
    assert 0.8 < share < 0.9  # ~85% leave, the rest time out


def test_reports_partner_only_posts_counts_every_10s(run):
    _, events = run
    reports = {p.id for p in PARTNERS if p.mode == "reports"}
    counts = [(t, e) for t, p, e in events if p in reports]
    assert counts and all(e["type"] == "count" for _, e in counts)
    assert all(t % 10_000 == 0 for t, _ in counts)
    cumulative = [e["cumulative"] for _, e in counts]
    assert cumulative == sorted(cumulative) and cumulative[-1] > 0
    assert all(e["uniques"] <= e["cumulative"] for _, e in counts)
    assert max(e["concurrent"] for _, e in counts) > 0
    assert counts[-1][1]["concurrent"] == 0  # everyone has gone at the end
    assert not any(e["type"] == "count" for _, p, e in events if p not in reports)


def test_reconnecting_viewers_reuse_viewer_id_with_new_sessions(run):
    _, events = run
    by_viewer = defaultdict(list)
    for offset, platform, event in events:
        if event["type"] == "join" and "viewer_id" in event:
            by_viewer[event["viewer_id"]].append((offset, platform, event["session_id"]))
    again = {v: joins for v, joins in by_viewer.items() if len(joins) > 1}
    assert len(again) > 0.05 * len(by_viewer)
    for joins in again.values():
        assert len({sid for _, _, sid in joins}) == len(joins)
        assert len({platform for _, platform, _ in joins}) == 1
    anonymous = sum(1 for _, _, e in events if e["type"] == "join" and "viewer_id" not in e)
    assert anonymous > 0


def test_partners_get_audiences_in_proportion_to_weight(run):
    _, events = run
    joins = defaultdict(int)
    for _, platform, event in events:
        joins[platform] += event["type"] == "join"
    assert joins["scnews"] > joins["jinguan"] > joins["kandu"] > joins["dayang"]


def test_arrivals_peak_about_an_hour_in():
    weights = arrival_weights(DURATION_S)
    assert sum(weights) == pytest.approx(1.0)
    peak_minute = weights.index(max(weights)) / 60
    assert 45 <= peak_minute <= 70
    # the finale bump: a local maximum in the second half
    second_half = weights[DURATION_S // 2 :]
    assert max(second_half) > weights[DURATION_S // 2]


@pytest.mark.parametrize("bad", [{"scale": 0}, {"scale": -1}, {"duration_s": 10}, {"partners": ()}])
def test_bad_parameters_are_refused(bad):
    with pytest.raises(ValueError):
        AudienceParams(**bad)
