"""The alert duty: the monitor runs while this worker owns partition 0, without a broker."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from contextlib import asynccontextmanager
from functools import partial

import orjson
import pytest

from contract.alerts import Alert
from stream.alert_cards import alert_card
from stream.alert_duty import AlertDuty
from stream.channels.feishu import FeishuBot
from stream.channels.wecom import WeComBot
from stream.deliverer import Deliverer
from stream.registry_names import RegistryNames
from tests.stream.conftest import Sent

T0 = 1_700_000_000_000


def alert(n: int) -> Alert:
    return Alert(
        id=f"live/s/web/{n}",
        at=T0,
        raised_at=T0,
        stream="s",
        platform="web",
        kind="live",
        level="info",
        message_zh="上线",
        message_en="live",
        value=None,
    )


class Monitor:
    """Stands in for ``AlertMonitor``: ``raises`` are the alerts of the next evaluation."""

    def __init__(self, fail_start: bool = False) -> None:
        self.started = self.stopped = self.polls = 0
        self.fail_start = fail_start
        self.raises: list[Alert] = []
        self.evaluated_at: list[int] = []
        self.caught_up = True
        self.names = "names"
        self.backlog: list[tuple[str, Alert]] = []
        self.asked: list[tuple[tuple[str, ...], int]] = []

    def undelivered(self, channels, now_ms):
        self.asked.append((tuple(channels), now_ms))
        return self.backlog

    async def start(self) -> None:
        if self.fail_start:
            raise OSError("cluster away")
        self.started += 1

    async def poll(self) -> None:
        self.polls += 1

    def evaluate(self, now_ms: int) -> list[Alert]:
        self.evaluated_at.append(now_ms)
        alerts, self.raises = self.raises, []
        return alerts

    async def stop(self) -> None:
        self.stopped += 1


class Monitors:
    """A monitor factory that remembers what it built."""

    def __init__(self, *monitors: Monitor) -> None:
        self.queue = list(monitors)
        self.built: list[Monitor] = []

    def __call__(self) -> Monitor:
        monitor = self.queue.pop(0) if self.queue else Monitor()
        self.built.append(monitor)
        return monitor


class Deliverers:
    """Stands in for the ``Deliverer`` factory: what each built deliverer was offered, and
    what it was told had failed; like the deliverer, it knows what it was given."""

    channels = ("wecom", "feishu")

    def __init__(self) -> None:
        self.built: list[Deliverers] = []
        self.offers: list[tuple[str, str, object]] = []
        self.failed: list[tuple[str, str, object]] = []
        self.given: set[tuple[str, str]] = set()
        self.stopped = 0

    def __call__(self) -> Deliverers:
        built = Deliverers()
        self.built.append(built)
        return built

    def known(self, channel, alert_id) -> bool:
        return (channel, alert_id) in self.given

    def _give(self, alert, channels) -> None:
        self.given.update((c, alert.id) for c in channels or self.channels)

    def offer(self, alert, card, channels=None) -> None:
        if all(self.known(c, alert.id) for c in channels or self.channels):
            return  # as the queues do
        self._give(alert, channels)
        self.offers.append((alert.id, card, channels))

    def fail(self, alert, detail, channels=None) -> None:
        self._give(alert, channels)
        self.failed.append((alert.id, detail, channels))

    async def stop(self) -> None:
        self.stopped += 1


def card(alert, names) -> str:
    return f"card of {alert.id} by {names}"


def duty(monitors, sent=None, deliverers=None) -> AlertDuty:
    if deliverers is None:
        return AlertDuty(monitors, sent or Sent())
    return AlertDuty(monitors, sent or Sent(), deliverers, card)


async def test_a_worker_without_partition_0_runs_no_monitor():
    monitors = Monitors()
    d = duty(monitors)
    await d.tick(False, T0)
    assert monitors.built == []
    assert not d.active


async def test_the_monitor_starts_once_and_is_polled_and_evaluated_every_tick():
    monitors = Monitors()
    d = duty(monitors)
    await d.tick(True, T0)
    await d.tick(True, T0 + 1000)
    [monitor] = monitors.built
    assert d.active
    assert (monitor.started, monitor.polls) == (1, 2)
    assert monitor.evaluated_at == [T0, T0 + 1000]


async def test_losing_partition_0_stops_the_monitor_and_regaining_it_starts_a_new_one():
    monitors = Monitors()
    d = duty(monitors)
    await d.tick(True, T0)
    await d.tick(False, T0 + 1000)
    assert not d.active
    assert monitors.built[0].stopped == 1
    await d.tick(False, T0 + 2000)
    assert monitors.built[0].stopped == 1
    await d.tick(True, T0 + 3000)
    assert d.active
    assert len(monitors.built) == 2
    assert monitors.built[1].started == 1


async def test_a_monitor_that_fails_to_start_is_retried_at_the_next_tick(caplog):
    monitors = Monitors(Monitor(fail_start=True))
    d = duty(monitors)
    with caplog.at_level(logging.ERROR, logger="stream.alert_duty"):
        await d.tick(True, T0)
    assert not d.active
    assert "alert evaluation failed" in caplog.text
    await d.tick(True, T0 + 1000)
    assert d.active
    assert len(monitors.built) == 2


async def test_raised_alerts_are_sent_keyed_by_their_id():
    monitor = Monitor()
    sent = Sent()
    d = duty(Monitors(monitor), sent=sent)
    monitor.raises = [alert(1), alert(2)]
    await d.tick(True, T0)
    assert [key for key, _ in sent.on("alerts")] == [b"live/s/web/1", b"live/s/web/2"]
    assert orjson.loads(sent.on("alerts")[0][1]) == alert(1).to_json()


async def test_without_channels_alerts_are_only_sent_to_the_topic():
    monitor = Monitor()
    sent = Sent()
    d = duty(Monitors(monitor), sent=sent)
    monitor.raises = [alert(1)]
    await d.tick(True, T0)
    assert len(sent.on("alerts")) == 1
    assert d.deliverer is None


async def test_no_deliverer_runs_before_the_monitor_caught_up():
    monitor = Monitor()
    monitor.caught_up = False
    deliverers = Deliverers()
    d = duty(Monitors(monitor), deliverers=deliverers)
    await d.tick(True, T0)
    assert deliverers.built == []


async def test_the_undelivered_backlog_goes_first_to_its_channel_then_new_alerts_to_all():
    monitor = Monitor()
    monitor.backlog = [("feishu", alert(1)), ("wecom", alert(2))]
    deliverers = Deliverers()
    d = duty(Monitors(monitor), deliverers=deliverers)
    monitor.raises = [alert(3)]
    await d.tick(True, T0)
    monitor.raises = [alert(4)]
    await d.tick(True, T0 + 1000)
    [deliverer] = deliverers.built
    assert deliverer.offers == [
        ("live/s/web/1", "card of live/s/web/1 by names", ("feishu",)),
        ("live/s/web/2", "card of live/s/web/2 by names", ("wecom",)),
        ("live/s/web/3", "card of live/s/web/3 by names", None),
        ("live/s/web/4", "card of live/s/web/4 by names", None),
    ]


async def test_the_backlog_is_read_every_tick_and_what_shows_up_late_is_delivered():
    # The previous owner may publish an alert, or fail to record a delivery, after this
    # worker caught up: the backlog read at the first tick alone would miss it.
    monitor = Monitor()
    deliverers = Deliverers()
    d = duty(Monitors(monitor), deliverers=deliverers)
    await d.tick(True, T0)
    monitor.backlog = [("wecom", alert(1)), ("feishu", alert(1))]
    await d.tick(True, T0 + 1000)
    await d.tick(True, T0 + 2000)  # the same backlog again: already given, not repeated
    assert monitor.asked == [(("wecom", "feishu"), T0 + t) for t in (0, 1000, 2000)]
    [deliverer] = deliverers.built
    assert [(i, c) for i, _, c in deliverer.offers] == [
        ("live/s/web/1", ("wecom",)),
        ("live/s/web/1", ("feishu",)),
    ]


async def test_a_card_already_given_to_the_deliverer_is_not_made_again():
    monitor = Monitor()
    monitor.backlog = [("wecom", alert(1))]
    made: list[str] = []

    def counting_card(alert, names):
        made.append(alert.id)
        return card(alert, names)

    d = AlertDuty(Monitors(monitor), Sent(), Deliverers(), counting_card)
    for t in range(3):
        await d.tick(True, T0 + t * 1000)
    assert made == ["live/s/web/1"]


async def test_losing_partition_0_stops_the_deliveries_and_regaining_it_reads_the_backlog():
    deliverers = Deliverers()
    monitors = Monitors()
    d = duty(monitors, deliverers=deliverers)
    await d.tick(True, T0)
    await d.tick(False, T0 + 1000)
    assert d.deliverer is None and deliverers.built[0].stopped == 1
    await d.tick(True, T0 + 2000)
    assert len(deliverers.built) == 2
    assert monitors.built[1].asked == [(("wecom", "feishu"), T0 + 2000)]


def test_a_deliverer_needs_a_card_maker():
    with pytest.raises(ValueError, match="go together"):
        AlertDuty(Monitors(), Sent(), Deliverers())


async def test_an_alert_whose_card_fails_is_recorded_failed_and_the_others_go_on(caplog):
    monitor = Monitor()
    sent = Sent()
    monitor.backlog = [("feishu", alert(1)), ("wecom", alert(2))]
    deliverers = Deliverers()

    def broken_card(alert, names):
        if alert.id in ("live/s/web/1", "live/s/web/3"):
            raise OverflowError("timestamp out of range for platform time_t")
        return card(alert, names)

    d = AlertDuty(Monitors(monitor), sent, deliverers, broken_card)
    monitor.raises = [alert(3), alert(4)]
    with caplog.at_level(logging.ERROR, logger="stream.alert_duty"):
        await d.tick(True, T0)
        await d.tick(True, T0 + 1000)  # the failed ones are known now: not tried again
    assert len(sent.on("alerts")) == 2 and d.active
    [deliverer] = deliverers.built
    assert [(i, c) for i, _, c in deliverer.offers] == [
        ("live/s/web/2", ("wecom",)),
        ("live/s/web/4", None),
    ]
    assert deliverer.failed == [
        ("live/s/web/1", "OverflowError: timestamp out of range for platform time_t", ("feishu",)),
        ("live/s/web/3", "OverflowError: timestamp out of range for platform time_t", None),
    ]
    assert caplog.text.count("its message could not be made") == 2


async def test_revoking_partition_0_stops_the_duty_at_once():
    deliverers = Deliverers()
    monitors = Monitors()
    d = duty(monitors, deliverers=deliverers)
    await d.tick(True, T0)
    await d.revoked([1, 2])
    assert d.active and deliverers.built[0].stopped == 0
    await d.revoked([0, 1])
    assert not d.active and d.deliverer is None
    assert (deliverers.built[0].stopped, monitors.built[0].stopped) == (1, 1)


async def test_closing_stops_the_duty_and_releases_the_http_client():
    closed: list[bool] = []

    async def close() -> None:
        closed.append(True)

    deliverers = Deliverers()
    monitors = Monitors()
    d = AlertDuty(monitors, Sent(), deliverers, card, close=close)
    await d.tick(True, T0)
    await d.close()
    assert not d.active and deliverers.built[0].stopped == 1 and closed == [True]
    await AlertDuty(Monitors(), Sent()).close()  # nothing to release


class Hanging:
    """An HTTP client whose requests never get an answer."""

    @asynccontextmanager
    async def stream(self, *args, **kwargs):
        await asyncio.Event().wait()
        yield


async def test_pending_deliveries_per_channel_for_the_health_page():
    assert AlertDuty(Monitors(), Sent()).pending() == {}
    monitor = Monitor()
    monitor.names = RegistryNames()
    sinks = [WeComBot("https://wecom.example/send?key=k"), FeishuBot("https://lark.example/h")]
    new_deliverer = partial(Deliverer, sinks, Sent(), Hanging)
    d = AlertDuty(
        Monitors(monitor), Sent(), new_deliverer, partial(alert_card, lang="en", dashboard_url=None)
    )
    # The alerts must be fresh: older than the delivery window, they are given up at once.
    now = int(time.time() * 1000)
    monitor.backlog = [("feishu", dataclasses.replace(alert(1), raised_at=now))]
    monitor.raises = [dataclasses.replace(alert(n), raised_at=now) for n in (2, 3)]
    try:
        assert d.pending() == {}
        await d.tick(True, now)
        assert d.pending() == {"wecom": 2, "feishu": 3}
    finally:
        await d.stop()
    assert d.pending() == {}
