"""Alerts reach local stand-ins of WeCom, DingTalk, Feishu and a signed webhook: each in its
native format, signed as the platform documents, naming partner and stream by their
registered names; a failed first attempt is retried and delivered once; a worker killed
while a channel is down leaves that delivery to its restart, which sends nothing twice.
Real processes: Kafka, ingest, the worker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict

import httpx
import orjson
import pytest

from contract.deliveries import decode_delivery
from contract.topics import DELIVERIES
from tests.conftest import Stack
from tests.stream.standins import StandIn

pytestmark = pytest.mark.integration

STREAM = "bots-carnival"
TITLE = "成都第八届社区邻里狂欢节"
PARTNER, NAME, NAME_EN = "kunming", "昆明信息港", "Kunming Info Port"
MARKER = STREAM.encode()
"""In every message of this module's stream: the webhook's JSON and the bots' links."""
DASHBOARD = "https://tally.example"
SECRETS = {"dingtalk": "SECstandin-ding", "feishu": "standin-lark", "webhook": "standin-hook"}


@pytest.fixture(scope="module")
def standins() -> Iterator[dict[str, StandIn]]:
    rate_limited = (200, b'{"errcode":45009,"errmsg":"api freq out of limit"}')
    started = {
        "wecom": StandIn("wecom", script=[rate_limited], marker=MARKER),
        "dingtalk": StandIn("dingtalk", SECRETS["dingtalk"], script=[(500, b"")], marker=MARKER),
        "feishu": StandIn("feishu", SECRETS["feishu"]),
        "webhook": StandIn("webhook", SECRETS["webhook"], down=True),
    }
    for standin in started.values():
        standin.start()
    yield started
    for standin in started.values():
        standin.stop()


@pytest.fixture(scope="module")
def bot_worker(stack: Stack, standins: dict[str, StandIn]) -> Iterator[Stack]:
    """The stack's worker restarted to deliver to the stand-ins (and back afterwards)."""
    stack.cli("stream", "add", STREAM, "--title", TITLE, "--tz", "Asia/Shanghai")
    env = {
        **stack.env,
        "LIVETALLY_ALERT_WECOM_WEBHOOK": standins["wecom"].url,
        "LIVETALLY_ALERT_DINGTALK_WEBHOOK": standins["dingtalk"].url,
        "LIVETALLY_ALERT_DINGTALK_SECRET": SECRETS["dingtalk"],
        "LIVETALLY_ALERT_FEISHU_WEBHOOK": standins["feishu"].url,
        "LIVETALLY_ALERT_FEISHU_SECRET": SECRETS["feishu"],
        "LIVETALLY_ALERT_WEBHOOK": standins["webhook"].url,
        "LIVETALLY_ALERT_WEBHOOK_SECRET": SECRETS["webhook"],
        "LIVETALLY_DASHBOARD_URL": DASHBOARD,
        "LIVETALLY_MILESTONES": "40",
        # A killed worker's partitions move after this: keep the restart below short.
        "LIVETALLY_SESSION_TIMEOUT_S": "6",
    }
    stack.kill("worker", 15)
    stack.service_env["worker"] = env
    stack.start("worker")
    try:
        yield stack
    finally:
        stack.service_env.pop("worker", None)
        if "worker" in stack.procs:
            stack.kill("worker", 15)
        stack.start("worker")


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def milestones(standin: StandIn) -> list[bytes]:
    """The bodies this stand-in accepted about this stream's milestone alerts."""
    return [
        r.body
        for r in standin.received
        if r.verdict == "ok" and MARKER in r.body and ("突破".encode() in r.body)
    ]


def post_joins(stack: Stack, key: str, count: int) -> None:
    now = int(time.time() * 1000)
    events = [
        {
            "stream": STREAM,
            "type": "join",
            "ts": now,
            "session_id": uuid.uuid4().hex,
            "viewer_id": f"v{i}",
        }
        for i in range(count)
    ]
    r = httpx.post(
        stack.ingest_url + "/v1/events",
        json={"events": events},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert r.status_code == 202, r.text


def delivery_records(stack: Stack) -> list[dict]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=stack.settings.kafka.servers, enable_auto_commit=False
    )
    tp = TopicPartition(stack.settings.kafka.topic(DELIVERIES), 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    end = consumer.end_offsets([tp])[tp]
    found: list[dict] = []
    try:
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=500).values():
                found += [asdict(decode_delivery(r.value)) for r in records if r.value]
    finally:
        consumer.close()
    return [d for d in found if f"/{STREAM}/" in d["alert_id"]]


def test_alerts_reach_every_bot_natively_signed_and_named_exactly_once(
    bot_worker: Stack, standins: dict[str, StandIn]
):
    stack = bot_worker
    # --replace: the browser tests register the carnival's partners (this one too) first.
    key = stack.cli("partner", "add", PARTNER, "--name", NAME, "--name-en", NAME_EN, "--replace")
    partner_key = key.stdout.strip().splitlines()[-1]
    time.sleep(5.5)  # ingest and the worker's monitor pick registry changes up within 5 s
    post_joins(stack, partner_key, 50)  # 50 views: the partner's and the total's milestone 40

    bots = ("wecom", "dingtalk", "feishu")
    wait_for(
        "both milestones at every bot",
        lambda: all(len(milestones(standins[b])) == 2 for b in bots),
    )
    wait_for("the webhook being tried", lambda: standins["webhook"].received)

    wecom = [orjson.loads(b) for b in milestones(standins["wecom"])]
    assert all(m["msgtype"] == "markdown" for m in wecom)
    contents = sorted(m["markdown"]["content"] for m in wecom)
    assert any(f"{NAME} 观看人次突破 40" in c for c in contents)
    assert any("全部平台 观看人次突破 40" in c for c in contents)
    assert all(TITLE in c and f"({DASHBOARD}/?stream={STREAM})" in c for c in contents)
    assert all(PARTNER not in c.replace(STREAM, "") for c in contents)  # names, not ids

    ding = [orjson.loads(b) for b in milestones(standins["dingtalk"])]
    assert all(m["msgtype"] == "markdown" and m["markdown"]["title"] for m in ding)
    assert any(f"{NAME} 观看人次突破 40" in m["markdown"]["text"] for m in ding)
    assert all(r.query.get("sign") for r in standins["dingtalk"].received)

    lark = [orjson.loads(b) for b in milestones(standins["feishu"])]
    assert all(m["msg_type"] == "interactive" for m in lark)
    assert all(m["card"]["header"]["template"] == "blue" for m in lark)  # info level
    texts = [m["card"]["elements"][0]["text"] for m in lark]
    assert all(t["tag"] == "lark_md" for t in texts)
    assert any(t["content"] == f"{NAME} 观看人次突破 40" for t in texts)

    # The failed first attempts were retried: once more, not twice.
    for bot, first in (("wecom", "scripted"), ("dingtalk", "scripted")):
        ours = [r.verdict for r in standins[bot].received if MARKER in r.body]
        assert ours[0] == first and ours.count("ok") == 2, (bot, ours)
    refused = [r.verdict for s in standins.values() for r in s.received]
    assert set(refused) <= {"ok", "scripted", "down"}  # every signature checked out

    # The webhook is down: kill the worker while it retries, bring the webhook back and
    # restart; the new alert duty delivers what has no record, and only that.
    stack.kill("worker", 9)
    standins["webhook"].down = False
    stack.start("worker")
    wait_for("the webhook's deliveries", lambda: len(milestones(standins["webhook"])) == 2)
    time.sleep(4)  # two more evaluations: time for a wrong repeat
    hooks = [orjson.loads(b) for b in milestones(standins["webhook"])]
    assert sorted(h["platform"] or "" for h in hooks) == ["", PARTNER]  # ids in the fields
    assert any(h["message_zh"] == f"{NAME} 观看人次突破 40" for h in hooks)
    assert all(r.headers["x-livetally-signature"] for r in standins["webhook"].received)
    for bot in bots:
        assert len(milestones(standins[bot])) == 2, bot  # not again after the restart

    logs = (stack.logs / "worker.log").read_text(errors="replace")
    assert "standin-key" not in logs and "standin-token" not in logs  # the bots' credentials
    assert "delivered after" in logs

    records = delivery_records(stack)
    outcomes = {(d["channel"], d["alert_id"].split("/")[0]) for d in records}
    assert {c for c, kind in outcomes if kind == "milestone"} == {*bots, "webhook"}
    assert all(d["outcome"] == "delivered" for d in records if d["alert_id"].startswith("m"))
