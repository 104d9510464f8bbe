"""The deliverer over real HTTP to local stand-ins of the bots: what arrives, retries,
records, that offering never waits for a bot, and what an odd answer gets."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

import httpx
import pytest

from contract.deliveries import decode_delivery
from stream.alert_cards import alert_card
from stream.channels.dingtalk import DingTalkBot
from stream.channels.feishu import FeishuBot
from stream.channels.webhook import Webhook
from stream.channels.wecom import WeComBot
from stream.deliverer import MAX_ANSWER_BYTES, Deliverer
from tests.stream.channels.conftest import drop_alert, names
from tests.stream.conftest import Sent
from tests.stream.standins import (
    HUGE,
    RawBot,
    StandIn,
    answer_after,
    huge_body,
    never_answer,
    trickle,
)

FAST = (50, 100)
"""Backoff in ms, so that retries take a moment here."""


@pytest.fixture
async def client():
    async with httpx.AsyncClient() as c:
        yield c


@pytest.fixture
def standins():
    started: list[StandIn] = []

    def start(*args, **kwargs) -> StandIn:
        standin = StandIn(*args, **kwargs).start()
        started.append(standin)
        return standin

    yield start
    for standin in started:
        standin.stop()


def fresh_alert():
    """The drop alert, raised now (deliveries stop 5 minutes after ``raised_at``)."""
    now = int(time.time() * 1000)
    return dataclasses.replace(drop_alert(), at=now - 6_000, raised_at=now)


async def until(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_each_channel_gets_its_native_signed_message_and_each_outcome_is_recorded(
    client, standins, caplog
):
    wecom, ding = standins("wecom"), standins("dingtalk", "SECding")
    lark, hook = standins("feishu", "lark-secret"), standins("webhook", "hook-secret")
    sinks = [
        WeComBot(wecom.url),
        DingTalkBot(ding.url, "SECding"),
        FeishuBot(lark.url, "lark-secret"),
        Webhook(hook.url, "hook-secret"),
    ]
    sent = Sent()
    deliverer = Deliverer(sinks, sent, lambda: client, backoff=FAST)
    alert = fresh_alert()
    deliverer.offer(alert, alert_card(alert, names(), "zh", "https://tally.example"))
    try:
        with caplog.at_level(logging.INFO):
            await until(lambda: len(sent.on("deliveries")) == 4)
    finally:
        await deliverer.stop()
    assert "standin-key" not in caplog.text and "standin-token" not in caplog.text
    assert [r.verdict for s in (wecom, ding, lark, hook) for r in s.received] == ["ok"] * 4
    assert "昆明信息港" in wecom.messages[0]["markdown"]["content"]
    assert ding.messages[0]["msgtype"] == "markdown"
    assert lark.messages[0]["card"]["header"]["template"] == "red"
    assert hook.messages[0] == alert.to_json()
    records = {decode_delivery(v).channel: decode_delivery(v) for _, v in sent.on("deliveries")}
    assert {c: (d.outcome, d.attempts) for c, d in records.items()} == {
        c: ("delivered", 1) for c in ("wecom", "dingtalk", "feishu", "webhook")
    }
    assert sorted(k for k, _ in sent.on("deliveries")) == sorted(
        f"{c}/{alert.id}".encode() for c in ("dingtalk", "feishu", "webhook", "wecom")
    )


@pytest.mark.parametrize(
    ("kind", "first"),
    [
        ("webhook", (500, b"")),
        ("wecom", (200, b'{"errcode":45009,"errmsg":"api freq out of limit"}')),
        ("dingtalk", (200, b'{"errcode":130101,"errmsg":"send too fast"}')),
        ("feishu", (400, b'{"code":9499,"msg":"too many request"}')),
    ],
)
async def test_a_channel_that_fails_first_gets_the_message_exactly_once(
    client, standins, kind, first
):
    standin = standins(kind, script=[first])
    sink = {"webhook": Webhook, "wecom": WeComBot, "dingtalk": DingTalkBot, "feishu": FeishuBot}
    sent = Sent()
    deliverer = Deliverer([sink[kind](standin.url)], sent, lambda: client, backoff=FAST)
    alert = fresh_alert()
    deliverer.offer(alert, alert_card(alert, names(), "en", None))
    try:
        await until(lambda: sent.on("deliveries"))
        await asyncio.sleep(0.3)  # time for a wrong second delivery
    finally:
        await deliverer.stop()
    assert [r.verdict for r in standin.received] == ["scripted", "ok"]
    [(_, value)] = sent.on("deliveries")
    record = decode_delivery(value)
    assert (record.outcome, record.attempts) == ("delivered", 2)


async def test_a_refused_signature_is_given_up_after_one_attempt(client, standins):
    lark = standins("feishu", "the-right-secret")
    sent = Sent()
    deliverer = Deliverer([FeishuBot(lark.url, "a-wrong-one")], sent, lambda: client)
    alert = fresh_alert()
    deliverer.offer(alert, alert_card(alert, names(), "zh", None))
    try:
        await until(lambda: sent.on("deliveries"))
    finally:
        await deliverer.stop()
    assert [r.verdict for r in lark.received] == ["sign mismatch"]
    record = decode_delivery(sent.on("deliveries")[0][1])
    assert (record.outcome, record.attempts) == ("failed", 1)
    assert "code 19021" in record.detail


async def test_a_bot_that_never_answers_is_retried_and_its_key_stays_out_of_logs(client, caplog):
    bot = await RawBot(never_answer).start()
    sent = Sent()
    deliverer = Deliverer([WeComBot(bot.url)], sent, lambda: client, timeout_s=0.2, backoff=FAST)
    alert = fresh_alert()
    deliverer.offer(alert, alert_card(alert, names(), "zh", None))
    try:
        with caplog.at_level(logging.INFO):
            await until(lambda: deliverer.queues["wecom"].pending[alert.id].attempts >= 2)
    finally:
        await deliverer.stop()
        await bot.stop()
    assert sent.on("deliveries") == []  # still pending: the next owner's to deliver
    assert "raw-secret-key" not in caplog.text and "/cgi-bin" not in caplog.text
    assert "Timeout" in caplog.text


async def test_offering_does_not_wait_for_a_slow_bot(client):
    bot = await RawBot(answer_after(1.0)).start()
    sent = Sent()
    deliverer = Deliverer([WeComBot(bot.url)], sent, lambda: client, timeout_s=3.0)
    alert = fresh_alert()
    ticks_while_sending = 0

    async def count() -> None:  # stands in for the agent counting beside the alert duty
        nonlocal ticks_while_sending
        for _ in range(20):
            await asyncio.sleep(0.01)
            if bot.requests and alert.id in deliverer.queues["wecom"].pending:
                ticks_while_sending += 1

    try:
        deliverer.offer(alert, alert_card(alert, names(), "zh", None))
        assert alert.id in deliverer.queues["wecom"].pending
        started = time.monotonic()
        await count()
        # All 20 ticks ran, most of them while the request was out, and well before the
        # bot's answer: nothing waited for it.
        assert time.monotonic() - started < 0.8
        assert ticks_while_sending >= 10
        assert sent.on("deliveries") == []
        await until(lambda: sent.on("deliveries"))
    finally:
        await deliverer.stop()
        await bot.stop()
    assert decode_delivery(sent.on("deliveries")[0][1]).outcome == "delivered"


async def test_an_answer_that_trickles_in_is_cut_off_at_the_timeout(client):
    bot = await RawBot(trickle).start()
    sent = Sent()
    deliverer = Deliverer([WeComBot(bot.url)], sent, lambda: client, timeout_s=0.3, backoff=FAST)
    alert = fresh_alert()
    deliverer.offer(alert, alert_card(alert, names(), "zh", None))
    try:
        await until(lambda: deliverer.queues["wecom"].pending[alert.id].attempts >= 1, 3.0)
    finally:
        await deliverer.stop()
        await bot.stop()
    assert "Timeout" in deliverer.queues["wecom"].pending[alert.id].last_error


class Judging(WeComBot):
    """A WeCom bot that remembers the size of every answer it judged."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.sizes: list[int] = []

    def judge(self, status, body):
        self.sizes.append(len(body))
        return super().judge(status, body)


async def test_only_the_start_of_a_huge_answer_is_read(client):
    bot = await RawBot(huge_body).start()
    sink = Judging(bot.url)
    sent = Sent()
    deliverer = Deliverer([sink], sent, lambda: client, backoff=FAST)
    alert = fresh_alert()
    deliverer.offer(alert, alert_card(alert, names(), "zh", None))
    try:
        await until(lambda: sink.sizes)
    finally:
        await deliverer.stop()
        await bot.stop()
    assert 0 < sink.sizes[0] <= MAX_ANSWER_BYTES < HUGE
    # Not a bot's answer: a 200 without an errcode is retried.
    assert deliverer.queues["wecom"].pending[alert.id].last_error.startswith("HTTP 200 without")


class Failing:
    """A client whose requests fail with a message quoting the URL's path and query."""

    def _fail(self, *args, **kwargs):
        raise httpx.ConnectError("no route for /cgi-bin/webhook/send?key=quoted%2Dkey")

    post = stream = _fail


async def test_a_failed_requests_detail_names_the_host_never_the_path_or_query():
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=quoted-key"
    sent = Sent()
    deliverer = Deliverer([WeComBot(url)], sent, Failing, backoff=FAST)
    alert = fresh_alert()
    deliverer.offer(alert, alert_card(alert, names(), "zh", None))
    try:
        await until(lambda: deliverer.queues["wecom"].pending[alert.id].attempts >= 1)
    finally:
        await deliverer.stop()
    detail = deliverer.queues["wecom"].pending[alert.id].last_error
    assert detail == "ConnectError from https://qyapi.weixin.qq.com"


async def test_an_unreachable_bot_is_retried(client, caplog):
    sent = Sent()
    deliverer = Deliverer([Webhook("http://127.0.0.1:9/hook")], sent, lambda: client, backoff=FAST)
    alert = fresh_alert()
    deliverer.offer(alert, alert_card(alert, names(), "zh", None))
    try:
        await until(lambda: deliverer.queues["webhook"].pending[alert.id].attempts >= 2)
    finally:
        await deliverer.stop()
    assert "ConnectError" in deliverer.queues["webhook"].pending[alert.id].last_error
    assert sent.on("deliveries") == []  # nothing final yet


async def test_an_alert_failed_without_an_attempt_is_recorded_and_never_sent(client, standins):
    wecom = standins("wecom")
    sent = Sent()
    deliverer = Deliverer([WeComBot(wecom.url)], sent, lambda: client)
    alert = fresh_alert()
    deliverer.fail(alert, "its message could not be made", ("wecom", "feishu"))
    try:
        await until(lambda: sent.on("deliveries"))
        assert deliverer.known("wecom", alert.id) and not deliverer.known("feishu", alert.id)
        deliverer.offer(alert, alert_card(alert, names(), "zh", None))
        await asyncio.sleep(0.2)
    finally:
        await deliverer.stop()
    assert wecom.received == []
    [(_, value)] = sent.on("deliveries")
    record = decode_delivery(value)
    assert (record.outcome, record.attempts, record.detail) == (
        "failed",
        0,
        "its message could not be made",
    )
