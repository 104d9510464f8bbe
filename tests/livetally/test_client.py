"""The partner SDK: back-off maths, result parsing, batching by size and by time, the
background sender and its bounded queue, on_error, and retries over a mock transport."""

from __future__ import annotations

import gzip
import io
import random
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import httpx
import msgspec
import orjson
import pytest

from contract.events import Event, parse_event
from contract.topics import DEADLETTER
from contract.wire import WireEvent
from livetally.client import (
    BatchResult,
    Client,
    ClientError,
    KafkaClient,
    LineError,
    QueueFull,
    RejectedEvent,
    backoff_delay,
    iter_ndjson,
    parse_result,
    parse_retry_after,
    send_file,
)
from livetally.exceptions import LivetallyError

# --- pure helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("-4", 0.0),
        ("soon", None),
        ("Sat, 21 Dec 2024 11:00:10 GMT", 10.0),
        ("Sat, 21 Dec 2024 10:59:00 GMT", 0.0),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(header, expected):
    now = 1734778800.0  # 2024-12-21 11:00:00 UTC
    assert parse_retry_after(header, now=now) == expected


@pytest.mark.parametrize("attempt", range(12))
def test_backoff_is_jittered_within_an_exponential_bound(attempt):
    rng = random.Random(attempt)
    bound = min(30.0, 0.25 * 2**attempt)
    delays = [backoff_delay(attempt, rng=rng) for _ in range(50)]
    assert all(bound / 2 <= d <= bound for d in delays)
    assert len(set(delays)) > 1  # jitter spreads clients apart


def test_backoff_honours_retry_after_as_a_floor():
    rng = random.Random(1)
    assert backoff_delay(0, retry_after=5.0, rng=rng) == 5.0
    assert 16.0 <= backoff_delay(7, retry_after=1.0, rng=rng) <= 30.0
    with pytest.raises(ValueError):
        backoff_delay(-1)


def test_parse_result_reads_accepted_and_rejections():
    doc = {
        "accepted": 2,
        "rejected": [{"index": 1, "code": "bad_value", "detail": "type must be ..."}],
    }
    assert parse_result(doc) == BatchResult(2, [RejectedEvent(1, "bad_value", "type must be ...")])
    assert parse_result({"accepted": 5}) == BatchResult(5, [])
    with pytest.raises(ClientError):
        parse_result(["not", "an", "object"])
    with pytest.raises(ClientError):
        parse_result({"accepted": "many"})


def test_batch_results_add_with_offset():
    total = BatchResult()
    total.add(BatchResult(1, [RejectedEvent(0, "x", "")]), offset=0)
    total.add(BatchResult(3, [RejectedEvent(2, "y", "")]), offset=500)
    assert total.accepted == 4
    assert [r.index for r in total.rejected] == [0, 502]


def test_iter_ndjson_numbers_lines_and_skips_blanks():
    items = list(iter_ndjson(['{"a": 1}\n', "\n", "{oops\n", "  \n", "[1]\n"]))
    assert items[0] == (1, {"a": 1})
    assert isinstance(items[1], LineError) and items[1].line == 3
    assert items[2] == (5, [1])


# --- the client over httpx.MockTransport ---------------------------------------------------


class FakeIngest:
    """Answers requests from a script of (status, body, headers), recording what it got."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def bodies(self):
        out = []
        for request in self.requests:
            raw = request.content
            if request.headers.get("content-encoding") == "gzip":
                raw = gzip.decompress(raw)
            out.append(orjson.loads(raw)["events"])
        return out

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else None
        if answer is None:  # default: accept everything
            n = len(self.bodies()[-1])
            return httpx.Response(202, json={"accepted": n})
        if isinstance(answer, Exception):
            raise answer
        status, body, headers = answer
        return httpx.Response(status, json=body, headers=headers)


class FakeClock:
    """A monotonic clock that stands still until a test moves it, counting who reads it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0
        self._cond = threading.Condition()

    def __call__(self) -> float:
        with self._cond:
            self.reads += 1
            self._cond.notify_all()
            return self.now

    def wait_reads(self, count: int) -> None:
        """Wait until the clock has been read ``count`` times in all."""
        with self._cond:
            assert self._cond.wait_for(lambda: self.reads >= count, timeout=10)


def _client(fake, **kwargs):
    sleeps: list[float] = []
    kwargs.setdefault("clock", FakeClock())
    client = Client(
        "http://ingest.test/",
        "ltk_k",
        transport=httpx.MockTransport(fake),
        sleep=sleeps.append,
        rng=random.Random(0),
        flush_at_exit=False,
        **kwargs,
    )
    return client, sleeps


def test_send_batches_and_flush_posts_the_rest_gzipped():
    fake = FakeIngest()
    client, _ = _client(fake, batch_size=500)
    for i in range(1200):
        client.send({"type": "heartbeat", "stream": "s", "ts": i, "session_id": f"x{i}"})
    assert client.pending == 200
    client.flush()
    assert [len(b) for b in fake.bodies()] == [500, 500, 200]
    assert fake.bodies()[2][0]["ts"] == 1000
    request = fake.requests[0]
    assert request.url == "http://ingest.test/v1/events"
    assert request.headers["authorization"] == "Bearer ltk_k"
    assert request.headers["content-encoding"] == "gzip"
    assert client.result.accepted == 1200 and client.pending == 0


def test_plain_json_when_gzip_is_off():
    fake = FakeIngest()
    client, _ = _client(fake, gzip=False)
    client.post_batch([{"type": "join"}])
    assert "content-encoding" not in fake.requests[0].headers
    assert orjson.loads(fake.requests[0].content) == {"events": [{"type": "join"}]}


def test_rejection_indexes_count_from_the_first_event_sent():
    rejected = {"accepted": 499, "rejected": [{"index": 3, "code": "bad_type", "detail": "d"}]}
    fake = FakeIngest(None, (207, rejected, {}))
    client, _ = _client(fake, batch_size=500)
    for i in range(1000):
        client.send({"n": i})
    assert client.result.accepted == 999
    assert client.result.rejected == [RejectedEvent(503, "bad_type", "d")]


def test_all_rejected_problem_is_an_outcome_not_an_error():
    problem = {
        "type": "about:blank",
        "title": "Every event was rejected",
        "status": 422,
        "accepted": 0,
        "rejected": [{"index": 0, "code": "unknown_stream", "detail": "not registered"}],
    }
    fake = FakeIngest((422, problem, {}))
    client, _ = _client(fake)
    result = client.post_batch([{"type": "join"}])
    assert result.accepted == 0 and result.rejected[0].code == "unknown_stream"


def test_429_and_503_are_retried_honouring_retry_after():
    fake = FakeIngest(
        (429, {"title": "Rate limit exceeded"}, {"Retry-After": "2"}),
        (503, {"title": "Events not stored"}, {}),
        None,
    )
    client, sleeps = _client(fake)
    assert client.post_batch([{"a": 1}]).accepted == 1
    assert len(fake.requests) == 3
    assert sleeps[0] == 2.0  # the server's Retry-After, above the 0.25 s back-off
    assert 0.25 <= sleeps[1] <= 0.5  # second attempt's jittered back-off
    assert client.retries == 2


def test_network_errors_and_timeouts_are_retried():
    fake = FakeIngest(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), None)
    client, sleeps = _client(fake)
    assert client.post_batch([{"a": 1}, {"b": 2}]).accepted == 2
    assert len(sleeps) == 2


def test_gives_up_after_max_retries():
    fake = FakeIngest(*[httpx.ConnectError("refused")] * 4)
    client, sleeps = _client(fake, max_retries=3)
    with pytest.raises(ClientError, match="after 4 attempts.*ConnectError"):
        client.post_batch([{"a": 1}])
    assert len(sleeps) == 3


def _internal_error(error_id: str) -> tuple[int, dict, dict]:
    problem = {
        "title": "Internal error",
        "status": 500,
        "code": "internal_error",
        "detail": "the request failed unexpectedly",
        "error_id": error_id,
    }
    return (500, problem, {})


def test_a_500_is_retried_at_most_twice_then_raised_with_its_error_id():
    fake = FakeIngest(*[_internal_error(f"e{i}") for i in range(5)])
    client, sleeps = _client(fake)  # max_retries=8: the 500 limit is what stops it
    with pytest.raises(ClientError, match=r"500.*Internal error.*error id e2") as info:
        client.post_batch([{"a": 1}])
    assert len(fake.requests) == 3
    assert len(sleeps) == 2 and client.retries == 2
    assert info.value.status == 500
    assert info.value.problem["error_id"] == "e2"


def test_a_500_that_goes_away_on_retry_is_an_outcome():
    fake = FakeIngest(_internal_error("e0"), None)
    client, sleeps = _client(fake)
    assert client.post_batch([{"a": 1}]).accepted == 1
    assert len(sleeps) == 1


def test_503_429_and_network_errors_between_500s_do_not_earn_500s_more_retries():
    fake = FakeIngest(
        _internal_error("e0"),
        (503, {"title": "Events not stored"}, {}),
        httpx.ConnectError("refused"),
        _internal_error("e1"),
        (429, {"title": "Rate limit exceeded"}, {"Retry-After": "1"}),
        _internal_error("e2"),
        None,
    )
    client, sleeps = _client(fake)
    with pytest.raises(ClientError, match="error id e2"):
        client.post_batch([{"a": 1}])
    assert len(fake.requests) == 6 and len(sleeps) == 5


@pytest.mark.parametrize("status", [503, 408])
def test_503_and_408_are_retried_up_to_max_retries(status):
    fake = FakeIngest(*[(status, {"title": "Not now"}, {})] * 6, None)
    client, sleeps = _client(fake)
    assert client.post_batch([{"a": 1}]).accepted == 1
    assert len(sleeps) == 6


def test_other_4xx_raise_with_the_problem_document():
    problem = {"title": "Unauthorized", "detail": "the API key is unknown or revoked"}
    fake = FakeIngest((401, problem, {}))
    client, sleeps = _client(fake)
    with pytest.raises(ClientError, match="401.*unknown or revoked") as info:
        client.post_batch([{"a": 1}])
    assert info.value.status == 401
    assert info.value.problem == problem
    assert sleeps == []


def test_context_manager_flushes_on_exit():
    fake = FakeIngest()
    client, _ = _client(fake)
    with client:
        client.send({"a": 1})
        assert fake.requests == []
    assert len(fake.requests) == 1


def test_bad_arguments_are_programming_errors():
    with pytest.raises(ValueError):
        Client("http://x", "k", batch_size=0)
    with pytest.raises(ValueError):
        Client("http://x", "k", max_retries=-1)
    with pytest.raises(ValueError):
        Client("http://x", "k", flush_interval=-1)
    with pytest.raises(ValueError):
        Client("http://x", "k", max_queue_size=0)


# --- batching by time, the background sender, on_error -------------------------------------

HEARTBEAT = {"type": "heartbeat", "stream": "s", "ts": 1, "session_id": "x"}


def test_a_batch_goes_once_the_oldest_event_has_waited_flush_interval():
    fake = FakeIngest()
    clock = FakeClock()
    client, _ = _client(fake, clock=clock, batch_size=500, flush_interval=1.0)
    client.send(HEARTBEAT)
    clock.now = 0.999
    client.send(HEARTBEAT)
    assert fake.requests == [] and client.pending == 2
    clock.now = 1.0
    client.send(HEARTBEAT)  # the first has waited a second: all three go
    assert [len(b) for b in fake.bodies()] == [3] and client.pending == 0
    clock.now = 1.5
    client.send(HEARTBEAT)
    clock.now = 2.4
    assert client.flush_if_due() == BatchResult() and client.pending == 1
    clock.now = 2.5
    assert client.flush_if_due().accepted == 1
    assert [len(b) for b in fake.bodies()] == [3, 1]


def test_a_batch_goes_as_soon_as_batch_size_events_wait_whatever_the_clock():
    fake = FakeIngest()
    client, _ = _client(fake, batch_size=3, flush_interval=60.0)
    for _ in range(7):
        client.send(HEARTBEAT)
    assert [len(b) for b in fake.bodies()] == [3, 3] and client.pending == 1


def test_the_sender_thread_posts_a_lone_event_when_flush_interval_has_passed():
    fake = FakeIngest()
    posted = threading.Event()

    def ingest(request):
        answer = fake(request)
        posted.set()
        return answer

    clock = FakeClock()
    client, _ = _client(ingest, clock=clock, flush_interval=1.0, background=True)
    client.heartbeat("s", "x", ts=1)
    clock.wait_reads(3)  # queued at 0; the sender looked at the clock and went to wait
    assert fake.requests == []
    clock.now = 0.999
    reads = clock.reads
    client.flush_if_due()  # wakes the sender: not yet
    clock.wait_reads(reads + 2)
    assert fake.requests == [] and client.pending == 1
    clock.now = 1.0
    client.flush_if_due()
    assert posted.wait(10)
    client.flush()
    assert client.result.accepted == 1 and client.pending == 0
    assert [len(b) for b in fake.bodies()] == [1]
    client.close()


class BlockingIngest(FakeIngest):
    """Accepts everything, but holds each request until ``release`` is set."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.arrived = threading.Semaphore(0)

    def __call__(self, request):
        self.requests.append(request)
        self.arrived.release()
        assert self.release.wait(10)
        return httpx.Response(202, json={"accepted": len(self.bodies()[-1])})


def test_a_full_queue_drops_new_events_and_says_so_without_blocking_the_caller():
    fake = BlockingIngest()
    errors = []
    client, _ = _client(
        fake,
        background=True,
        batch_size=1,
        flush_interval=0,
        max_queue_size=3,
        on_error=lambda error, events: errors.append((error, events)),
    )
    assert client.send({**HEARTBEAT, "session_id": "in flight"})
    assert fake.arrived.acquire(timeout=10)  # the sender holds it, waiting for the answer
    assert all(client.send({**HEARTBEAT, "session_id": f"q{i}"}) for i in range(3))
    dropped = {**HEARTBEAT, "session_id": "dropped"}
    assert client.send(dropped) is False
    assert client.send(dropped) is False
    assert client.dropped == 2 and client.pending == 4  # 3 queued + 1 in flight, no more
    assert [type(e) for e, _ in errors] == [QueueFull, QueueFull]
    assert errors[0][1] == [dropped]
    fake.release.set()
    assert client.flush().accepted >= 3  # every answer that came while it waited
    assert client.result.accepted == 4 and client.pending == 0
    assert [b[0]["session_id"] for b in fake.bodies()] == ["in flight", "q0", "q1", "q2"]
    assert client.send({**HEARTBEAT, "session_id": "room again"})
    client.close()
    assert client.result.accepted == 5 and client.pending == 0


def test_on_error_gets_a_refused_batch_instead_of_the_caller():
    problem = {"title": "Unauthorized", "detail": "the API key is unknown or revoked"}
    errors = []
    client, _ = _client(
        FakeIngest((401, problem, {})),
        batch_size=2,
        on_error=lambda error, events: errors.append((error, events)),
    )
    client.send({"n": 0})
    client.send({"n": 1})  # the batch is refused: reported, not raised
    client.send({"n": 2})
    client.close()
    assert [(e.status, events) for e, events in errors] == [(401, [{"n": 0}, {"n": 1}])]
    assert client.result.accepted == 1
    with pytest.raises(ClientError, match="closed"):
        client.send({"n": 3})


def test_on_error_gets_what_the_sender_thread_could_not_post():
    errors = []
    done = threading.Event()

    def on_error(error, events):
        errors.append((error, events))
        done.set()

    fake = FakeIngest(*[httpx.ConnectError("refused")] * 3)
    client, sleeps = _client(fake, background=True, max_retries=2, on_error=on_error)
    client.send({"n": 0})
    client.flush()
    assert done.wait(10)
    [(error, events)] = errors
    assert isinstance(error, ClientError) and "after 3 attempts" in str(error)
    assert events == [{"n": 0}] and len(sleeps) == 2
    client.close()


def test_a_background_client_refuses_an_event_that_is_not_json_at_the_call():
    client, _ = _client(FakeIngest(), background=True)
    with pytest.raises(TypeError):
        client.send({"ts": object()})
    assert client.pending == 0
    client.close()


def test_close_posts_what_is_queued_and_the_helpers_write_events_the_contract_accepts():
    fake = FakeIngest()
    client, _ = _client(fake, background=True, now_ms=lambda: 1_734_780_000_000)
    with client:
        client.join("carnival", "s1", viewer_id="v1")
        client.heartbeat("carnival", "s1", event_id="e-2")
        client.leave("carnival", "s1", ts="2024-12-21T19:20:00+08:00")
        client.count("carnival", 7, uniques=9)
    [events] = fake.bodies()
    assert [e["type"] for e in events] == ["join", "heartbeat", "leave", "count"]
    assert events[0] == {
        "type": "join",
        "stream": "carnival",
        "ts": 1_734_780_000_000,
        "session_id": "s1",
        "viewer_id": "v1",
    }
    assert events[3] == {
        "type": "count",
        "stream": "carnival",
        "ts": 1_734_780_000_000,
        "concurrent": 7,
        "uniques": 9,
    }
    for event in events:
        if isinstance(event["ts"], int):
            msgspec.convert(event, WireEvent)  # the schema's fields and types
        mode = "reports" if event["type"] == "count" else "sessions"
        parsed = parse_event(event, now_ms=1_734_780_000_000, streams={"carnival"}, mode=mode)
        assert isinstance(parsed, Event), parsed


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_sdk_imports_without_the_ingest_service_or_any_server_dependency():
    done = _python(
        """
        import sys
        for name in ("ingest", "stream", "dashboard", "orjson", "msgspec", "numpy",
                     "kafka", "starlette", "uvicorn"):
            sys.modules[name] = None  # importing any of them now fails
        import httpx
        import livetally.client as sdk

        def ingest(request):
            print(request.content.decode())
            return httpx.Response(202, json={"accepted": 1})

        client = sdk.Client("http://ingest.test", "k", gzip=False,
                            transport=httpx.MockTransport(ingest))
        client.join("carnival", "观众 1", ts=5)
        client.close()
        """
    )
    assert done.returncode == 0, done.stderr
    expected = {"type": "join", "stream": "carnival", "ts": 5, "session_id": "观众 1"}
    assert orjson.loads(done.stdout) == {"events": [expected]}


def test_events_queued_when_the_interpreter_exits_are_sent():
    done = _python(
        """
        import httpx
        from livetally.client import Client

        def ingest(request):
            print("posted", request.content)
            return httpx.Response(202, json={"accepted": 1})

        client = Client("http://ingest.test", "k", gzip=False, background=True,
                        flush_interval=3600, transport=httpx.MockTransport(ingest))
        client.heartbeat("carnival", "s1", ts=5)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("posted") == 1 and '"session_id":"s1"' in done.stdout


# --- livetally send ------------------------------------------------------------------------


def test_send_file_reports_rejections_by_line_number(tmp_path):
    lines = ['{"type": "join", "n": 0}', "", "not json", '{"type": "join", "n": 1}']
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    answer = {"accepted": 1, "rejected": [{"index": 1, "code": "unknown_field", "detail": "n"}]}
    fake = FakeIngest((207, answer, {}))
    out = io.StringIO()
    code = send_file(
        str(path), key="k", url="http://ingest.test", out=out, transport=httpx.MockTransport(fake)
    )
    assert code == 1
    assert [len(b) for b in fake.bodies()] == [2]
    report = out.getvalue().splitlines()
    assert report[0] == "accepted 1, rejected 2"
    assert report[1].startswith("line 3: invalid_json: not valid JSON")
    assert report[2] == "line 4: unknown_field: n"


def test_send_file_posts_in_batches_of_500_and_exits_0_when_all_accepted(tmp_path):
    path = tmp_path / "many.ndjson"
    path.write_text("".join(f'{{"i": {i}}}\n' for i in range(1201)), encoding="utf-8")
    fake = FakeIngest()
    out = io.StringIO()
    code = send_file(
        str(path), key="k", url="http://ingest.test", out=out, transport=httpx.MockTransport(fake)
    )
    assert code == 0
    assert [len(b) for b in fake.bodies()] == [500, 500, 201]
    assert out.getvalue() == "accepted 1201, rejected 0\n"


def test_send_file_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(LivetallyError, match="cannot read"):
        send_file(str(tmp_path / "nope.ndjson"), key="k", url="http://ingest.test")


# --- straight to Kafka ------------------------------------------------------------------------


def test_kafka_client_refuses_what_ingest_would_refuse_before_producing():
    client = KafkaClient("127.0.0.1:1", "douyu")
    with pytest.raises(ClientError, match="platform 'huya'"):
        client.send({"type": "join", "platform": "huya"})
    with pytest.raises(ClientError, match="not JSON"):
        client.send({"type": "join", "ts": object()})
    with pytest.raises(ClientError, match="JSON object"):
        client.send(["join"])  # type: ignore[arg-type]
    assert client.pending == 0
    with pytest.raises(ValueError):
        KafkaClient("127.0.0.1:1", "")


class FakeProducer:
    """Stands in for kafka-python's producer: four partitions, every send acknowledged."""

    def __init__(self):
        self.sent = []

    def partitions_for(self, topic):
        return {0, 1, 2, 3}

    def send(self, topic, *, key, value, partition):
        self.sent.append((topic, key, value, partition))
        return FakeFuture()

    def flush(self, timeout=None):
        return None


class FakeFuture:
    def get(self, timeout=None):
        return None


def test_kafka_client_writes_the_records_ingest_writes_in_the_key_s_partition():
    from contract.packing import partition_for
    from contract.records import decode_batch, partition_key

    client = KafkaClient("127.0.0.1:1", "douyu", 45_000, clock_ms=lambda: 1_734_780_000_000)
    producer = client._producer = FakeProducer()
    for i in range(10):
        client.send({"type": "join", "stream": "carnival", "ts": 1, "session_id": f"k{i}"})
    assert client.flush() == 10 and client.produced == 10
    seen = set()
    for topic, _key, value, partition in producer.sent:
        batch = decode_batch(value)
        assert topic == "livetally.events" and batch.platform == "douyu"
        assert (batch.received_at, batch.timeout_ms) == (1_734_780_000_000, 45_000)
        for event in batch.events:
            assert partition == partition_for(
                partition_key("carnival", "douyu", event["session_id"]), 4
            )
            seen.add(event["session_id"])
    assert seen == {f"k{i}" for i in range(10)}


def _read_topic(kafka, name: str, *, until, timeout_s: float = 60) -> list[dict]:
    from kafka import KafkaConsumer, TopicPartition

    topic = kafka.topic(name)
    consumer = KafkaConsumer(bootstrap_servers=kafka.servers, enable_auto_commit=False)
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or {0}]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    seen: list[dict] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not until(seen) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                seen.extend(orjson.loads(r.value) for r in records)
    finally:
        consumer.close()
    return seen


@pytest.mark.integration
def test_events_produced_straight_to_kafka_are_counted_and_invalid_ones_dead_lettered(stack):
    stream, partner = f"kc-{uuid.uuid4().hex[:6]}", f"kp{uuid.uuid4().hex[:6]}"
    stack.cli("stream", "add", stream, "--title", "Kafka client")
    stack.cli("partner", "add", partner, "--name", "Direct", "--session-timeout", "3600")
    token = stack.cli("token", "create", "--role", "viewer").stdout.strip().splitlines()[-1]
    now = time.time_ns() // 1_000_000
    bad_session = f"bad-{uuid.uuid4().hex[:8]}"
    with KafkaClient(stack.settings.kafka.bootstrap, partner, 3_600_000, batch_size=10) as kc:
        for i in range(25):
            kc.send({"type": "join", "stream": stream, "ts": now - i, "session_id": f"k{i}"})
        kc.send({"type": "join", "stream": stream, "ts": now, "session_id": bad_session, "x": 1})
    assert kc.produced == 26 and kc.pending == 0

    deadline = time.monotonic() + 90
    figures: dict = {}
    while time.monotonic() < deadline:
        r = httpx.get(
            f"{stack.dashboard_url}/api/v1/streams/{stream}/summary",
            headers={"Authorization": f"Bearer {token}"},
        )
        figures = r.json().get("platforms", {}).get(partner, {}) if r.status_code == 200 else {}
        if figures.get("views") == 25:
            break
        time.sleep(1)
    assert (figures.get("views"), figures.get("concurrent")) == (25, 25), figures

    def found(letters: list[dict]) -> bool:
        return any(bad_session in letter.get("value", "") for letter in letters)

    letters = _read_topic(stack.settings.kafka, DEADLETTER, until=found)
    [letter] = [x for x in letters if bad_session in x.get("value", "")]
    assert letter["code"] == "unknown_field"
    assert letter["detail"] == "unknown field(s): x"
