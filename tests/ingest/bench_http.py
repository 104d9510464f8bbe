"""Measures ingest throughput over real HTTP into a real broker: 500-event batches.

Run (with a broker and topics at BOOTSTRAP): python -m tests.ingest.bench_http 127.0.0.1:39092
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import httpx
import orjson

from contract.registry import Partner, Stream, hash_secret
from contract.registry_store import RegistryStore
from contract.settings import KafkaSettings
from contract.topics import ensure_topics

PORT = 39180
BATCH = 500


def body(seq: int, now: int) -> bytes:
    return orjson.dumps(
        {
            "events": [
                {
                    "type": "heartbeat",
                    "stream": "bench",
                    "ts": now,
                    "session_id": f"s-{seq}-{i}",
                    "viewer_id": f"v-{i % 5000}",
                }
                for i in range(BATCH)
            ]
        }
    )


async def run(url: str, key: str, seconds: float, concurrency: int) -> tuple[int, int]:
    now = time.time_ns() // 1_000_000
    bodies = [body(i, now) for i in range(20)]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    accepted = requests = 0
    deadline = time.monotonic() + seconds

    async def worker(n: int) -> None:
        nonlocal accepted, requests
        async with httpx.AsyncClient(timeout=30) as client:
            i = n
            while time.monotonic() < deadline:
                r = await client.post(url, content=bodies[i % len(bodies)], headers=headers)
                assert r.status_code == 202, r.text
                accepted += r.json()["accepted"]
                requests += 1
                i += concurrency

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return accepted, requests


def main() -> None:
    bootstrap = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:39092"
    port = int(bootstrap.rsplit(":", 1)[1])
    kafka = KafkaSettings(bootstrap=bootstrap, port=port)
    ensure_topics(kafka)
    key = "pk_bench_" + uuid.uuid4().hex
    store = RegistryStore(kafka)
    store.put(Stream("bench", "Bench"))
    store.put(Partner("bench", "Bench", rate=1_000_000, key_hash=hash_secret(key)))
    env_code = (
        "from contract.settings import KafkaSettings, Settings\n"
        "from ingest.app import serve\nfrom ingest.config import IngestConfig\n"
        f"kafka = KafkaSettings(bootstrap={bootstrap!r})\n"
        f"serve(IngestConfig(shared=Settings(kafka=kafka), port={PORT}))\n"
    )
    server = subprocess.Popen([sys.executable, "-c", env_code])
    try:
        base = f"http://127.0.0.1:{PORT}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server not ready")
            time.sleep(0.3)
        time.sleep(1.5)  # let the registry follower see the new partner
        asyncio.run(run(base + "/v1/events", key, 2, 4))  # warm-up
        for concurrency in (4, 8):
            seconds = 10.0
            accepted, requests = asyncio.run(run(base + "/v1/events", key, seconds, concurrency))
            print(
                f"concurrency {concurrency}: {requests / seconds:6.1f} req/s, "
                f"{accepted / seconds:9,.0f} events/s"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
