"""What each CLI subcommand does; imports are local so ``--help`` stays fast."""

from __future__ import annotations

import argparse
import sys

from contract.settings import Settings

__all__ = ["dispatch"]


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    """Run the subcommand named in ``args``."""
    command: str = args.command
    if command == "kafka":
        from livetally import kafka_server

        if args.kafka_command == "start":
            kafka_server.start(settings, brokers=args.brokers, secure=args.secure)
        elif args.kafka_command == "stop":
            kafka_server.stop(settings)
        elif args.kafka_command == "fetch":
            print(f"Apache Kafka {kafka_server.kafka_version()} in {kafka_server.ensure_libs()}")
        else:
            print(kafka_server.status(settings))
        return 0
    if command in ("up", "down", "status"):
        from livetally import processes

        if command == "up":
            processes.up(settings, brokers=args.brokers, secure=args.secure)
        elif command == "down":
            processes.down(settings)
        else:
            print(processes.status(settings))
        return 0
    if command in ("stream", "partner", "token"):
        from livetally import admin

        return admin.run(args, settings)
    if command == "demo":
        from livetally.demo import start_demo

        start_demo(
            settings, speed=args.speed, scale=args.scale, brokers=args.brokers, secure=args.secure
        )
        return 0
    if command == "send":
        from livetally.client import partner_key, send_file

        return send_file(args.file, key=partner_key(args.key, args.key_file), url=args.url)
    if command == "export":
        from dashboard.exports import export_command

        return export_command(args, settings)
    if command == "bench":
        from livetally.bench import run_bench

        return run_bench(settings, quick=args.quick, json_path=args.json)
    if command == "serve":
        return _serve(args, settings)
    raise ValueError(f"unknown command {command!r}")  # argparse prevents this


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    service: str = args.service
    if service == "ingest":
        from ingest.app import serve as serve_ingest
        from ingest.config import IngestConfig

        serve_ingest(IngestConfig.from_env())
    elif service == "worker":
        from stream.app import serve as serve_worker
        from stream.config import StreamConfig

        serve_worker(StreamConfig.from_env())
    elif service == "dashboard":
        from dashboard.app import serve as serve_dashboard
        from dashboard.config import DashboardConfig

        serve_dashboard(DashboardConfig.from_env())
    else:
        from livetally.demo.replay import run_replay

        run_replay(settings, speed=args.speed, scale=args.scale)
    sys.stdout.flush()
    return 0
