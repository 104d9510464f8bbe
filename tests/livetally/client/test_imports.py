"""The partner SDK stands alone: httpx is all it needs, and none of it imports a service."""

from __future__ import annotations

import pkgutil

import orjson

import livetally.client
from tests.livetally.client.fakes import run_python

BLOCKED = (
    "ingest",
    "stream",
    "dashboard",
    "orjson",
    "msgspec",
    "numpy",
    "kafka",
    "starlette",
    "uvicorn",
)
"""Modules the SDK must import without: the services and the servers' dependencies."""

SUBMODULES = sorted(m.name for m in pkgutil.iter_modules(livetally.client.__path__))


def _blocking(code: str) -> str:
    """``code`` preceded by lines that make importing any of ``BLOCKED`` fail."""
    return f"import sys\nfor name in {BLOCKED!r}:\n    sys.modules[name] = None\n{code}"


def test_the_sdk_imports_without_the_ingest_service_or_any_server_dependency():
    done = run_python(
        _blocking(
            """
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
    )
    assert done.returncode == 0, done.stderr
    expected = {"type": "join", "stream": "carnival", "ts": 5, "session_id": "观众 1"}
    assert orjson.loads(done.stdout) == {"events": [expected]}


def test_every_module_of_the_sdk_imports_on_its_own_without_them():
    assert {"backfill", "batching", "poster", "results", "retries", "send"} <= set(SUBMODULES)
    for name in SUBMODULES:
        done = run_python(_blocking(f"import livetally.client.{name}\n"))
        assert done.returncode == 0, (name, done.stderr)


def test_send_file_finds_the_ingest_address_without_them(tmp_path):
    """``livetally send`` without --url reads the ingest address from the environment,
    through contract's settings, which must not need a server dependency either."""
    events = tmp_path / "events.ndjson"
    events.write_text('{"type": "join", "stream": "s", "ts": 5, "session_id": "a"}\n')
    done = run_python(
        _blocking(
            f"""
import io
import os
import httpx
os.environ["LIVETALLY_INGEST_PORT"] = "18080"
from livetally.client import send as sender

seen = []
def ingest(request):
    seen.append(str(request.url))
    return httpx.Response(202, json={{"accepted": 1}})

code = sender.send_file({str(events)!r}, key="k", out=io.StringIO(),
                        transport=httpx.MockTransport(ingest))
print(code, seen[0])
"""
        )
    )
    assert done.returncode == 0, done.stderr
    code, url = done.stdout.split()
    assert code == "0" and url.startswith("http://127.0.0.1:18080/")
