"""The textbook approach: a Faust app written the way the tutorials write one.

One Kafka record per event, parsed into a ``faust.Record``, and Tables updated for every
event: the open sessions, and per partner the concurrent viewers and the views. Sessions
that stop sending heartbeats are closed by a sweep of the table once per second of event
time (Faust lets tables change only inside the stream). It is the reference livetally's
worker is compared with: the same events, the same numbers asked for, per-event state
updates with a changelog write each. Unlike livetally it is not exact under duplicates
and late events; the comparison is about speed.

Run: ``python -m livetally.bench.textbook BOOTSTRAP TOPIC APP_ID WEB_PORT DATADIR PARTITIONS``
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["create_app", "main"]

TIMEOUT_MS = 30_000


def create_app(
    bootstrap: str, topic_name: str, app_id: str, web_port: int, datadir: str, partitions: int
) -> Any:
    """The tutorial-style Faust app on ``topic_name``."""
    import faust

    class ViewerEvent(faust.Record, serializer="json"):  # type: ignore[misc]
        type: str
        stream: str
        ts: int
        platform: str
        session_id: str | None = None
        viewer_id: str | None = None
        concurrent: int | None = None
        cumulative: int | None = None
        uniques: int | None = None

    app: Any = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=datadir,
        web_port=web_port,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        topic_partitions=partitions,
        consumer_auto_offset_reset="earliest",
    )
    events = app.topic(topic_name, value_type=ViewerEvent, key_serializer="raw")
    last_seen = app.Table("last_seen", default=int)
    concurrent = app.Table("concurrent", default=int)
    views = app.Table("views", default=int)
    newest = app.Table("newest", default=int)

    @app.agent(events)  # type: ignore[untyped-decorator]
    async def count(stream: Any) -> None:
        async for event in stream:
            partner = event.platform
            if event.ts > newest["ts"]:
                newest["ts"] = event.ts
            if event.ts - newest["swept"] >= 1000:
                # Tables may only change inside the stream, so sessions expire here.
                newest["swept"] = event.ts
                cutoff = event.ts - TIMEOUT_MS
                for key, seen in list(last_seen.items()):
                    if seen and seen < cutoff:
                        last_seen[key] = 0
                        concurrent[key.split("/", 1)[0]] -= 1
            if event.type == "count":
                concurrent[partner] = event.concurrent or 0
                views[partner] = event.cumulative or 0
                continue
            key = f"{partner}/{event.session_id}"
            if event.type == "leave":
                if last_seen[key]:
                    last_seen[key] = 0
                    concurrent[partner] -= 1
                continue
            if not last_seen[key]:
                views[partner] += 1
                concurrent[partner] += 1
            last_seen[key] = max(last_seen[key], event.ts)

    @app.page("/healthz")  # type: ignore[untyped-decorator]
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok", "views": dict(views.items())})

    return app


def main(argv: list[str] | None = None) -> None:
    """Run the app until it is stopped."""
    from faust import Worker

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 6:
        raise SystemExit(__doc__)
    bootstrap, topic_name, app_id, port, datadir, partitions = args
    app = create_app(bootstrap, topic_name, app_id, int(port), datadir, int(partitions))
    Worker(app, loglevel="warning").execute_from_commandline()


if __name__ == "__main__":
    main()
