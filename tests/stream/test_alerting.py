"""The alert monitor fed through an in-memory consumer: what it merges, when it judges,
what it remembers, the names it takes from the registry and the deliveries it finds undone."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
import pytest

from contract.alerts import Alert, alert_key, encode_alert
from contract.deliveries import Delivery, delivery_key, encode_delivery
from contract.partials import Chunk, Diff, chunk_key, encode_chunk
from contract.stats import PartitionStats, encode_stats, stats_key
from stream import alerting
from stream.alerting import AlertMonitor
from stream.alerts import AlertRules
from stream.churn import RecentFigures
from tests.stream.fake_kafka import FakeCluster, FakeConsumer

NOW = 1_734_778_800_000  # a whole minute
START = NOW // 1000 - 600  # ten minutes before, a whole minute too
RULES = AlertRules(milestone_every=100, milestones=())
TOPICS = {"partials": 2, "stats": 2, "alerts": 1, "registry": 1, "deliveries": 1}


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster(TOPICS)


@pytest.fixture
def empty_fetches(cluster, monkeypatch) -> set[int]:
    """The fetches (1 = first) of the monitors' consumers that answer nothing."""
    numbers: set[int] = set()

    async def started(connect, **options):
        return FakeConsumer(cluster, batch=3, empty_fetches=numbers)

    monkeypatch.setattr(alerting, "started_consumer", started)
    return numbers


async def started_monitor(rules: AlertRules = RULES) -> AlertMonitor:
    monitor = AlertMonitor(
        {},
        "partials",
        "stats",
        "alerts",
        rules,
        registry_topic="registry",
        deliveries_topic="deliveries",
        clock=lambda: NOW,
    )
    await monitor.start()
    await monitor.poll()
    return monitor


def put_chunk(
    cluster: FakeCluster, platform: str, partition: int, seconds: Mapping[int, Diff]
) -> None:
    minute = min(seconds) // 60
    chunk = Chunk("show", platform, partition, minute, seconds)
    key = chunk_key("show", platform, partition, minute)
    cluster.append("partials", partition % 2, key, encode_chunk(chunk))


def put_stats(
    cluster: FakeCluster,
    platform: str,
    partition: int,
    last_arrival: int | None,
    recent: RecentFigures | None = None,
) -> None:
    recent = recent or RecentFigures(None)
    stats = PartitionStats(
        "show",
        platform,
        partition,
        last_event_ts=last_arrival,
        last_arrival=last_arrival,
        events=1,
        rejected=0,
        recent_as_of=recent.as_of,
        recent_offline_sessions=recent.offline,
        recent_single_event_offline=recent.single,
    )
    cluster.append("stats", partition % 2, stats_key(stats), encode_stats(stats))


def put_alerts(cluster: FakeCluster, alerts: list[Alert]) -> None:
    for alert in alerts:
        cluster.append("alerts", 0, alert_key(alert), encode_alert(alert))


def views(cluster: FakeCluster) -> None:
    """Views of two partners over three partitions: 60 + 40, 100 only in the total."""
    put_chunk(cluster, "web", 0, {START: (1, 30, 30)})
    put_chunk(cluster, "web", 1, {START + 1: (1, 30, 30)})
    put_chunk(cluster, "app", 0, {START + 2: (1, 40, 40)})
    put_stats(cluster, "web", 0, NOW - 1_000)
    put_stats(cluster, "app", 0, NOW - 1_000)


async def test_nothing_is_judged_before_what_was_published_before_the_start_is_read(
    cluster, empty_fetches
):
    views(cluster)
    for partition in range(0, 10, 2):  # more stats than one fetch of 3 records hands out
        put_stats(cluster, "tv", partition, NOW - 1_000)
    empty_fetches.add(2)
    monitor = await started_monitor()  # its second fetch answers nothing
    assert ("show", "app", 0) in monitor.arrivals and not monitor.caught_up
    assert monitor.evaluate(NOW) == []
    put_chunk(cluster, "web", 1, {START + 60: (1, 1, 1)})  # after the start: not waited for
    await monitor.poll()
    assert monitor.caught_up
    assert [a.id for a in monitor.evaluate(NOW)] == ["milestone/show/_total/100"]


async def test_the_monitor_judges_the_sum_of_partitions_and_partners(cluster, empty_fetches):
    views(cluster)
    monitor = await started_monitor()
    assert monitor.caught_up
    (alert,) = monitor.evaluate(NOW)
    # Neither partner reached 100 views (60 and 40); their sum did, when app's came in.
    assert (alert.id, alert.at, alert.platform) == (
        "milestone/show/_total/100",
        (START + 2) * 1000,
        None,
    )
    totals = monitor.partials.totals["show"].steps()
    assert totals.at(START + 2).views == 100 and totals.at(START + 2).concurrent == 3


async def test_a_newer_chunk_of_a_partition_and_minute_replaces_the_older(cluster, empty_fetches):
    views(cluster)
    put_chunk(cluster, "web", 1, {START + 1: (1, 10, 10)})  # web's partition 1 revised down
    monitor = await started_monitor()
    assert monitor.evaluate(NOW) == []
    assert monitor.partials.totals["show"].steps().at(NOW // 1000).views == 80
    assert monitor.partials.partners[("show", "web")].steps().at(NOW // 1000).views == 40


async def test_a_partner_is_as_live_as_its_newest_arrival_in_any_partition(cluster, empty_fetches):
    put_stats(cluster, "web", 0, NOW - 600_000)
    put_stats(cluster, "web", 1, NOW - 1_000)
    put_stats(cluster, "app", 0, NOW - 1_000)
    put_stats(cluster, "app", 1, NOW - 600_000)
    put_stats(cluster, "tv", 0, NOW - 600_000)
    put_stats(cluster, "radio", 0, None)  # no arrival yet: not judged
    monitor = await started_monitor()
    alerts = monitor.evaluate(NOW)
    assert [(a.kind, a.platform, a.at) for a in alerts] == [
        ("offline", "tv", NOW - 600_000 + RULES.offline_after_ms)
    ]


async def test_a_streams_numbers_are_not_judged_without_a_recent_arrival(cluster, empty_fetches):
    views(cluster)
    put_stats(cluster, "web", 0, NOW - 2 * RULES.max_age_ms)  # replaces both arrivals:
    put_stats(cluster, "app", 0, NOW - 2 * RULES.max_age_ms)  # the newest is two hours old
    every_50 = AlertRules(milestone_every=50, milestones=())  # web's 60 and the total's 100
    assert (await started_monitor(every_50)).evaluate(NOW) == []


async def test_alerts_read_back_from_the_alerts_topic_are_not_raised_again(cluster, empty_fetches):
    views(cluster)
    put_stats(cluster, "app", 1, NOW - 600_000)
    put_stats(cluster, "app", 0, NOW - 600_000)  # replaces app's live record above
    first = await started_monitor()
    raised = first.evaluate(NOW)
    assert [a.kind for a in raised] == ["offline", "milestone"]
    assert first.evaluate(NOW + 1_000) == []  # nor by the monitor that raised them
    put_alerts(cluster, raised)
    restarted = await started_monitor()
    assert restarted.evaluate(NOW + 1_000) == []


async def test_a_remembered_status_is_not_raised_again_under_a_newer_id(cluster, empty_fetches):
    put_stats(cluster, "web", 0, NOW - 60_000)  # stale now
    fresh = await started_monitor()
    (stale,) = fresh.evaluate(NOW)
    assert stale.kind == "stale"
    # Stale already, since an arrival before the newest one: the same status, another id.
    older = Alert(**{**stale.to_json(), "id": "stale/show/web/1", "at": NOW - 90_000})
    put_alerts(cluster, [older])
    assert (await started_monitor()).evaluate(NOW) == []


async def test_unreadable_records_are_skipped_with_a_warning_and_tombstones_quietly(
    cluster, empty_fetches, caplog
):
    cluster.append("partials", 0, b"bad", b"{")
    cluster.append("partials", 1, chunk_key("show", "tv", 1, START // 60), None)
    cluster.append("stats", 0, b"bad", orjson.dumps({"stream": "show"}))
    cluster.append("stats", 1, b"gone", None)
    cluster.append("alerts", 0, b"bad", b"not json")
    cluster.append("alerts", 0, b"list", b"[1]")
    cluster.append("alerts", 0, b"gone", None)
    views(cluster)
    with caplog.at_level(logging.WARNING, logger="stream.alerting"):
        monitor = await started_monitor()
    skipped = [r.getMessage() for r in caplog.records]
    assert len(skipped) == 3 and all(m.startswith("alert monitor skipped a") for m in skipped)
    assert [a.id for a in monitor.evaluate(NOW)] == ["milestone/show/_total/100"]


async def test_the_partitions_churn_figures_are_summed_into_one_alert(cluster, empty_fetches):
    """Each partition's stats record has its share; only their sum reaches the thresholds.
    Records without the figures (from before they existed) are read as before."""
    old = {"stream": "show", "platform": "tv", "partition": 0, "last_arrival": NOW, "events": 1}
    cluster.append("stats", 0, b"old", orjson.dumps(old))
    for partition in range(4):  # 680 of 800 in all
        put_stats(cluster, "web", partition, NOW, RecentFigures(NOW - partition * 500, 200, 170))
    put_stats(cluster, "app", 0, NOW, RecentFigures(NOW, 200, 10))
    monitor = await started_monitor(AlertRules())
    alerts = [a for a in monitor.evaluate(NOW + 2_000) if a.kind == "churn"]
    assert [(a.id, a.value, a.at) for a in alerts] == [(f"churn/show/web/{NOW // 1000}", 680, NOW)]
    assert "680 of 800" in alerts[0].message_en
    # A later record replaces its partition's share.
    put_stats(cluster, "web", 3, NOW, RecentFigures(NOW - 1_500, 200, 0))
    await monitor.poll()
    assert monitor.recent[("show", "web", 3)] == RecentFigures(NOW - 1_500, 200, 0)


async def test_poll_before_start_and_stop_twice_do_nothing(cluster, empty_fetches):
    monitor = AlertMonitor({}, "partials", "stats", "alerts", RULES)
    await monitor.poll()
    assert not monitor.caught_up
    await monitor.start()
    consumer = monitor._consumer
    await monitor.stop()
    await monitor.stop()
    assert consumer.stopped and monitor._consumer is None


def an_alert(n: int = 1) -> Alert:
    return Alert(
        f"live/show/web/{n}", NOW, NOW, "show", "web", "live", "info", "上线", "live", None
    )


async def test_a_deleted_minute_counts_as_empty_as_on_the_dashboard(cluster, empty_fetches):
    views(cluster)
    # The app's minute is deleted: the total stays at 60 views, short of the milestone.
    cluster.append("partials", 0, chunk_key("show", "app", 0, (START + 2) // 60), None)
    monitor = await started_monitor()
    assert [a.id for a in monitor.evaluate(NOW)] == []


def put_registry(cluster: FakeCluster, key: str, doc: dict | None) -> None:
    cluster.append("registry", 0, key.encode(), None if doc is None else orjson.dumps(doc))


async def test_messages_name_partners_by_their_registered_names(cluster, empty_fetches):
    put_registry(cluster, "partner/web", {"kind": "partner", "id": "web", "name": "昆明信息港"})
    put_registry(
        cluster,
        "partner/app",
        {"kind": "partner", "id": "app", "name": "抖音", "name_en": "Douyin"},
    )
    put_registry(cluster, "partner/app", None)  # deleted: its id stands for it again
    put_registry(
        cluster,
        "partner/app",
        {"kind": "partner", "id": "app", "name": "快手", "name_en": "Kuaishou"},
    )
    put_registry(cluster, "token/t1", {"kind": "token", "id": "t1", "role": "viewer"})
    put_stats(cluster, "web", 0, NOW - 60_000)
    put_stats(cluster, "app", 1, NOW - 60_000)
    monitor = await started_monitor()
    alerts = {a.platform: a for a in monitor.evaluate(NOW)}
    assert alerts["web"].message_zh == "昆明信息港 已 30 秒没有收到数据"
    assert alerts["web"].message_en == "昆明信息港: no events for 30 s"  # no English name
    assert alerts["app"].message_en == "Kuaishou: no events for 30 s"
    assert alerts["app"].id == "stale/show/app/" + str((NOW - 30_000) // 1000)  # ids stay ids
    assert monitor.names.partners.keys() == {"web", "app"}  # no tokens kept


def delivery(channel: str, alert: Alert, at: int = NOW) -> tuple[bytes, bytes]:
    d = Delivery(channel, alert.id, "delivered", at, 1)  # type: ignore[arg-type]
    return delivery_key(d.channel, d.alert_id), encode_delivery(d)


def raised(n: int, raised_at: int) -> Alert:
    return Alert(
        f"live/show/web/{n}", raised_at, raised_at, "show", "web", "live", "info", "z", "e", None
    )


async def test_recent_alerts_without_a_delivery_record_per_channel_are_undelivered(
    cluster, empty_fetches
):
    old, recent, newest = raised(1, NOW - 301_000), raised(2, NOW - 200_000), raised(3, NOW - 1)
    put_alerts(cluster, [old, recent, newest])
    cluster.append("deliveries", 0, *delivery("wecom", recent))
    cluster.append("deliveries", 0, *delivery("feishu", newest))
    cluster.append("deliveries", 0, delivery("feishu", newest)[0], None)  # tombstone
    cluster.append("deliveries", 0, b"bad", b"{}")
    monitor = await started_monitor()
    assert [(c, a.id) for c, a in monitor.undelivered(["wecom", "feishu"], NOW)] == [
        ("feishu", recent.id),
        ("wecom", newest.id),
        ("feishu", newest.id),
    ]


async def test_nothing_is_undelivered_before_the_monitor_caught_up(cluster, empty_fetches):
    put_alerts(cluster, [raised(1, NOW)])
    empty_fetches.update(range(1, 1000))
    monitor = await started_monitor()
    assert not monitor.caught_up
    assert monitor.undelivered(["wecom"], NOW) == []
