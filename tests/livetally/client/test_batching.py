"""The Client: batching by size and by time, the background sender and its bounded queue,
on_error and the flush at exit."""

from __future__ import annotations

import threading

import httpx
import pytest

from livetally.client import BatchResult, Client, ClientError, QueueFull, RejectedEvent
from tests.livetally.client.fakes import (
    HEARTBEAT,
    FakeClock,
    FakeIngest,
    make_client,
    run_python,
)


def test_send_batches_and_flush_posts_the_rest_gzipped():
    fake = FakeIngest()
    client, _ = make_client(fake, batch_size=500)
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


def test_rejection_indexes_count_from_the_first_event_sent():
    rejected = {"accepted": 499, "rejected": [{"index": 3, "code": "bad_type", "detail": "d"}]}
    fake = FakeIngest(None, (207, rejected, {}))
    client, _ = make_client(fake, batch_size=500)
    for i in range(1000):
        client.send({"n": i})
    assert client.result.accepted == 999
    assert client.result.rejected == [RejectedEvent(503, "bad_type", "d")]


def test_context_manager_flushes_on_exit():
    fake = FakeIngest()
    client, _ = make_client(fake)
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


def test_a_batch_goes_once_the_oldest_event_has_waited_flush_interval():
    fake = FakeIngest()
    clock = FakeClock()
    client, _ = make_client(fake, clock=clock, batch_size=500, flush_interval=1.0)
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
    client, _ = make_client(fake, batch_size=3, flush_interval=60.0)
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
    client, _ = make_client(ingest, clock=clock, flush_interval=1.0, background=True)
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
    client, _ = make_client(
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
    client, _ = make_client(
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
    client, sleeps = make_client(fake, background=True, max_retries=2, on_error=on_error)
    client.send({"n": 0})
    client.flush()
    assert done.wait(10)
    [(error, events)] = errors
    assert isinstance(error, ClientError) and "after 3 attempts" in str(error)
    assert events == [{"n": 0}] and len(sleeps) == 2
    client.close()


def test_a_background_client_refuses_an_event_that_is_not_json_at_the_call():
    client, _ = make_client(FakeIngest(), background=True)
    with pytest.raises(TypeError):
        client.send({"ts": object()})
    assert client.pending == 0
    client.close()


def test_events_queued_when_the_interpreter_exits_are_sent():
    done = run_python(
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


def test_close_says_what_a_failed_flush_left_behind(caplog):
    problem = {"title": "Unauthorized", "detail": "the API key is unknown or revoked"}
    client, _ = make_client(FakeIngest((401, problem, {})), batch_size=2, flush_interval=60)
    client.send({"n": 0})
    client._queue.append((0.0, {"n": 1}))  # queued, not yet due
    client._queue.append((0.0, {"n": 2}))
    with caplog.at_level("ERROR", logger="livetally.client"), pytest.raises(ClientError):
        client.close()  # the first batch ({"n": 0}, {"n": 1}) is refused: the caller hears it
    assert "1 events not delivered: closed before 1 events were sent" in caplog.text
    assert client.pending == 0


class _ClosingOnEntry:
    """The client's condition, with another thread's close() landing just before send()
    takes it (after send()'s first, unlocked check)."""

    def __init__(self, client, real):
        self.client, self.real = client, real

    def __enter__(self):
        self.client._closed = True
        return self.real.__enter__()

    def __exit__(self, *exc):
        return self.real.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_an_event_sent_while_another_thread_closes_is_refused_not_lost():
    client, _ = make_client(FakeIngest(), background=True)
    real = client._cond
    client._cond = _ClosingOnEntry(client, real)
    with pytest.raises(ClientError, match="closed"):
        client.send(HEARTBEAT)
    client._cond = real
    assert client.pending == 0 and client._thread is None
