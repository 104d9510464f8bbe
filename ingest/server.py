"""Serving the ingest app: one uvicorn process, or several sharing one listening socket.

Slow or abusive clients cannot pin a process: it takes at most ``limit_concurrency``
connections and requests (uvicorn answers 503 beyond), closes idle keep-alive connections
after ``keep_alive_s``, and gives headers ``header_timeout_s`` (``ingest.connections``) and
bodies ``body_timeout_s`` (``ingest.routes``), answering 408 when they run out.

On SIGTERM/SIGINT a server stops accepting, lets in-flight requests finish (their events
are acknowledged by Kafka before any 202), flushes and closes the producer, and the
process exits 0. With ``workers > 1`` a small supervisor binds the port, starts the
workers (restarting any that dies unexpectedly) and forwards the signal to them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from ingest.config import IngestConfig
from ingest.connections import protocol_class

__all__ = ["serve", "uvicorn_config"]

logger = logging.getLogger(__name__)

_GRACE_S = 5.0
"""Time beyond the Kafka acknowledgement timeout that in-flight requests get at shutdown."""


class _GracefulServer(uvicorn.Server):
    """uvicorn's server, except that a handled SIGTERM ends the process with status 0.

    uvicorn re-raises the signal after its graceful shutdown, so the process would die of
    it; a supervisor (systemd, Docker, ``livetally down``) should see a clean exit instead.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True


def uvicorn_config(config: IngestConfig, app: ASGIApp | None = None) -> uvicorn.Config:
    """uvicorn's settings for serving ``app`` (by default ``create_app(config)``)."""
    if app is None:
        from ingest.app import create_app

        app = create_app(config)
    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        loop=config.loop,
        http=protocol_class(
            config.http,
            header_timeout_s=config.header_timeout_s,
            drain_timeout_s=config.body_timeout_s,
        ),
        log_level="info",
        access_log=False,  # access lines are noise at this rate; keys are never logged anyway
        limit_concurrency=config.limit_concurrency or None,
        timeout_keep_alive=config.keep_alive_s,
        timeout_graceful_shutdown=int(config.ack_timeout_s + _GRACE_S),
    )


def _watch_parent(parent: int) -> None:
    """Stop this worker gracefully if the supervisor dies (e.g. SIGKILL), instead of
    serving on as an orphan nobody will stop."""
    while os.getppid() == parent:
        time.sleep(1.0)
    logger.warning("the ingest supervisor is gone; stopping this worker")
    os.kill(os.getpid(), signal.SIGTERM)


def _run_worker(config: IngestConfig, sock: socket.socket, parent: int) -> None:
    """One worker process of a multi-process server (spawned; builds its own app)."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    _GracefulServer(uvicorn_config(config)).run(sockets=[sock])


def _bind(config: IngestConfig) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _supervise(config: IngestConfig) -> int:
    sock = _bind(config)
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start(index: int) -> BaseProcess:
        process = context.Process(
            target=_run_worker, args=(config, sock, os.getpid()), name=f"ingest-worker-{index}"
        )
        process.start()
        return process

    def on_signal(sig: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in workers:
            if process.pid is not None and process.is_alive():
                try:
                    os.kill(process.pid, sig)
                except ProcessLookupError:
                    pass

    workers = [start(i) for i in range(config.workers)]
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    logger.info("ingest serving on %s with %d worker processes", config.base_url, config.workers)
    try:
        while not stopping:
            for index, process in enumerate(workers):
                if not process.is_alive() and not stopping:
                    logger.error(
                        "ingest worker %s exited with %s; restarting it",
                        process.pid,
                        process.exitcode,
                    )
                    workers[index] = start(index)
            time.sleep(0.5)
        deadline = time.monotonic() + config.ack_timeout_s + _GRACE_S + 10
        for process in workers:
            process.join(max(0.1, deadline - time.monotonic()))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    codes = [process.exitcode for process in workers]
    logger.info("ingest workers exited with %s", codes)
    return 0 if all(code == 0 for code in codes) else 1


def serve(config: IngestConfig) -> None:
    """Run the ingest API until SIGTERM/SIGINT; ``SystemExit(1)`` if a worker failed."""
    if config.workers <= 1:
        _GracefulServer(uvicorn_config(config)).run()
        return
    if _supervise(config) != 0:
        raise SystemExit(1)
