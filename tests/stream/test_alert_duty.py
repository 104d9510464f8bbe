"""The alert duty: the monitor runs while this worker owns partition 0, without a broker."""

from __future__ import annotations

import logging

import orjson

from contract.alerts import Alert
from stream.alert_duty import AlertDuty
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


class Webhook:
    def __init__(self) -> None:
        self.clients = 0
        self.calls: list[tuple[object, str, list[str]]] = []

    def client(self) -> object:
        self.clients += 1
        return f"client-{self.clients}"

    def schedule(self, client, url, alerts) -> None:
        self.calls.append((client, url, [a.id for a in alerts]))


def duty(monitors, sent=None, webhook_url=None, webhook=None) -> AlertDuty:
    webhook = webhook or Webhook()
    return AlertDuty(
        monitors,
        sent or Sent(),
        webhook_url,
        http_client=webhook.client,
        schedule=webhook.schedule,
    )


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


async def test_the_webhook_client_is_created_at_the_first_alert_and_kept():
    monitor = Monitor()
    webhook = Webhook()
    d = duty(Monitors(monitor), webhook_url="https://hooks.example/a", webhook=webhook)
    await d.tick(True, T0)
    assert webhook.clients == 0  # nothing to post yet
    monitor.raises = [alert(1)]
    await d.tick(True, T0 + 1000)
    monitor.raises = [alert(2), alert(3)]
    await d.tick(True, T0 + 2000)
    assert webhook.clients == 1
    assert webhook.calls == [
        ("client-1", "https://hooks.example/a", ["live/s/web/1"]),
        ("client-1", "https://hooks.example/a", ["live/s/web/2", "live/s/web/3"]),
    ]


async def test_without_a_webhook_alerts_are_only_sent_to_the_topic():
    monitor = Monitor()
    webhook = Webhook()
    sent = Sent()
    d = duty(Monitors(monitor), sent=sent, webhook=webhook)
    monitor.raises = [alert(1)]
    await d.tick(True, T0)
    assert len(sent.on("alerts")) == 1
    assert (webhook.clients, webhook.calls) == (0, [])
