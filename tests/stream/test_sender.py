"""Every topic the worker's parts name reaches the Faust topic declared for it."""

from __future__ import annotations

from typing import get_args

from contract import topics as names
from contract.settings import KafkaSettings, Settings
from stream.config import StreamConfig
from stream.sender import Topic, topic_sender
from stream.topics import declare_topics


class FaustTopic:
    def __init__(self, name: str, **options: str) -> None:
        self.name, self.options = name, options
        self.sent: list[tuple[bytes, bytes]] = []

    async def send(self, key: bytes, value: bytes) -> None:
        self.sent.append((key, value))


class App:
    """Stands in for ``faust.App``: keeps the topics declared on it by name."""

    def __init__(self) -> None:
        self.topics: dict[str, FaustTopic] = {}

    def topic(self, name: str, **options: str) -> FaustTopic:
        self.topics[name] = FaustTopic(name, **options)
        return self.topics[name]


async def test_each_topic_name_sends_raw_bytes_to_its_prefixed_kafka_topic():
    config = StreamConfig(shared=Settings(kafka=KafkaSettings(topic_prefix="t.")))
    app = App()
    send = topic_sender(declare_topics(app, config))
    for topic in get_args(Topic):
        await send(topic, topic.encode(), b"value of " + topic.encode())
    for topic in get_args(Topic):
        declared = app.topics["t." + getattr(names, topic.upper())]
        assert declared.sent == [(topic.encode(), b"value of " + topic.encode())]
        assert declared.options == {"key_serializer": "raw", "value_serializer": "raw"}
    assert "t." + names.EVENTS in app.topics  # read, never sent to
