"""The worker's Faust handlers delegate rebalances and the shutdown, without a broker."""

from __future__ import annotations

from collections import namedtuple
from types import SimpleNamespace

from stream.agents import register_agents

TP = namedtuple("TP", "topic partition")


class Signal:
    """A Faust signal: handlers connected, then sent to."""

    def __init__(self) -> None:
        self.handlers: list = []

    def connect(self, handler):
        self.handlers.append(handler)
        return handler

    async def send(self, **kwargs) -> None:
        for handler in self.handlers:
            await handler(self, **kwargs)


class App:
    """Just what ``register_agents`` touches of a Faust app."""

    def __init__(self) -> None:
        self.on_partitions_revoked = Signal()
        self.on_partitions_assigned = Signal()
        self.on_before_shutdown = Signal()

    def agent(self, *args, **kwargs):
        return lambda handler: handler

    timer = page = agent


class Done:
    """What a call to a ``Recorder`` returns: awaitable, or ignored by a plain call."""

    def __await__(self):
        return iter(())


class Recorder:
    """Any part of the runtime: records the calls made to it."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, *args))
            return Done()

        return call


def wired():
    app = App()
    topics = SimpleNamespace(events=SimpleNamespace(get_topic_name=lambda: "events"))
    runtime = SimpleNamespace(
        states=None,
        publisher=Recorder(),
        assignment=Recorder(),
        alerts=Recorder(),
        checkpointer=None,
        metrics_interval_s=2.0,
    )
    runtime.publisher.flush_interval_s = 1.0
    register_agents(app, topics, runtime)
    return app, runtime


async def test_a_revocation_hands_the_events_partitions_to_the_alert_duty_and_the_assignment():
    app, runtime = wired()
    await app.on_partitions_revoked.send(revoked={TP("events", 0), TP("partials", 0)})
    assert runtime.alerts.calls == [("revoked", [0])]
    assert runtime.assignment.calls == [("revoked", [0])]


async def test_the_shutdown_closes_the_alert_duty_after_publishing():
    app, runtime = wired()
    await app.on_before_shutdown.send()
    assert runtime.publisher.calls == [("publish_before_stop",)]
    assert runtime.alerts.calls == [("close",)]
