"""The replay loop: pacing, batching and progress without the network; the programme desk
on a real broker."""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict

import orjson
import pytest

from livetally.demo.audience import AudienceModel, AudienceParams
from livetally.demo.carnival import PARTNERS
from livetally.demo.replay import BATCH_SIZE, ReplayProgress, _replay, _write_progress


class QueueOnly:
    """Stands in for a sender thread: just the queue the loop feeds."""

    def __init__(self):
        self.batches: queue.Queue = queue.Queue()

    def drain(self):
        out = []
        while not self.batches.empty():
            out.append(self.batches.get())
        return out


def _params():
    return AudienceParams(scale=0.0005, seed=3, duration_s=600)


def test_replay_hands_on_every_event_in_order_in_batches():
    expected = defaultdict(list)
    for _, platform, event in AudienceModel(_params()).events():
        expected[platform].append(event)
    senders = {p.id: QueueOnly() for p in PARTNERS}
    progress = ReplayProgress(speed=1e6, scale=0.0005)
    model = AudienceModel(_params())
    finished = _replay(model, senders, progress, speed=1e6, stop=threading.Event())
    assert finished
    for pid, sender in senders.items():
        batches = sender.drain()
        assert all(0 < len(b) <= BATCH_SIZE for b in batches)
        assert [e for b in batches for e in b] == expected[pid]
    assert progress.sessions_started == model.sessions_started > 0
    assert progress.as_dict()["sim_time"] == "2024-12-21T19:10:00+08:00"


def test_replay_stops_early_when_asked():
    stop = threading.Event()
    stop.set()
    senders = {p.id: QueueOnly() for p in PARTNERS}
    progress = ReplayProgress(speed=1.0, scale=1.0)
    finished = _replay(AudienceModel(_params()), senders, progress, speed=1.0, stop=stop)
    assert not finished
    assert all(s.drain() == [] for s in senders.values())


def test_progress_file_has_the_documented_fields(tmp_path):
    progress = ReplayProgress(speed=60.0, scale=0.1, events_sent=5, accepted=4, rejected=1)
    path = tmp_path / "run" / "replay.json"
    _write_progress(path, progress)
    doc = orjson.loads(path.read_bytes())
    for name in (
        "sim_time",
        "elapsed_s",
        "events_sent",
        "sessions_started",
        "accepted",
        "rejected",
        "speed",
        "scale",
        "done",
    ):
        assert name in doc
    assert (doc["events_sent"], doc["accepted"], doc["rejected"]) == (5, 4, 1)
    assert doc["done"] is False
    assert doc["sim_time"] == "2024-12-21T19:00:00+08:00"
    assert not list(tmp_path.glob("run/*.tmp"))


def test_replay_held_up_by_full_sender_queues_still_stops_when_asked():
    class Slow(QueueOnly):
        def __init__(self):
            self.batches = queue.Queue(maxsize=1)

    params = AudienceParams(scale=0.002, seed=3, duration_s=600)
    senders = {p.id: Slow() for p in PARTNERS}
    progress = ReplayProgress(speed=1e6, scale=0.002)
    stop = threading.Event()
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(
            done=_replay(AudienceModel(params), senders, progress, speed=1e6, stop=stop)
        )
    )
    thread.start()
    thread.join(timeout=1.0)
    # nobody drains the queues: the loop is stuck behind them but still answers stop
    assert thread.is_alive()
    with progress.lock:
        assert progress.sim_ms < 600_000
    stop.set()
    thread.join(timeout=15)
    assert not thread.is_alive()
    assert result["done"] is False


def test_sender_posts_each_batch_once_stamped_with_the_real_time():
    import time

    import httpx

    from livetally.client import Client
    from livetally.demo.replay import _Sender

    seen = []

    def ingest(request):
        body = orjson.loads(request.content)
        seen.append(body["events"])
        return httpx.Response(202, json={"accepted": len(body["events"])})

    progress = ReplayProgress(speed=1.0, scale=1.0)
    client = Client("http://ingest.test", "k", gzip=False, transport=httpx.MockTransport(ingest))
    sender = _Sender("kandu", client, progress)
    sender.start()
    before = time.time_ns() // 1_000_000
    sender.batches.put([{"type": "join", "session_id": "a"}, {"type": "leave", "session_id": "a"}])
    sender.batches.put([{"type": "join", "session_id": "b"}])
    sender.batches.put(None)
    sender.join(timeout=10)
    assert not sender.is_alive()
    assert [[e["session_id"] for e in batch] for batch in seen] == [["a", "a"], ["b"]]
    assert all(before <= e["ts"] <= time.time_ns() // 1_000_000 for b in seen for e in b)
    assert (progress.events_sent, progress.accepted, progress.failed) == (3, 3, 0)


@pytest.mark.integration
def test_the_programme_desk_enters_each_segment_as_the_replay_reaches_it(tmp_path, broker):
    import dataclasses
    import uuid

    from contract.registry import Segment
    from contract.registry_store import RegistryStore
    from contract.settings import Settings
    from contract.topics import ensure_topics
    from livetally.demo.carnival import PROGRAMME, STREAM
    from livetally.demo.replay import ReplayProgress, _ProgrammeDesk

    kafka = dataclasses.replace(
        broker.settings.kafka, topic_prefix=f"t-programme-{uuid.uuid4().hex[:8]}."
    )
    ensure_topics(kafka)
    store = RegistryStore(kafka)
    store.put(STREAM)
    store.put(Segment("old", STREAM.id, 1_734_778_800, "上一次的节目"))  # an earlier replay's
    progress = ReplayProgress(speed=600.0, scale=0.01)
    desk = _ProgrammeDesk(Settings(home=tmp_path, kafka=kafka), progress)
    desk.start()

    def programme_ids(count: int) -> list[str]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ids = [s.id for s in store.load().programme(STREAM.id)]
            if len(ids) == count and "old" not in ids:
                return ids
            time.sleep(0.3)
        return ids

    assert programme_ids(1) == ["opening"]  # offset 0: at once, the old one removed
    with progress.lock:
        progress.sim_ms = PROGRAMME[2].offset_s * 1000
    assert programme_ids(3) == ["opening", "talent", "heritage"]
    desk.finished.set()
    desk.join(timeout=10)
    assert not desk.is_alive()
    entered = store.load().programme(STREAM.id)
    assert [s.title for s in entered] == [item.title for item in PROGRAMME[:3]]
    assert all(s.end == 0 for s in entered)  # each lasts until the next one starts
