"""What each CLI subcommand does; imports are local so ``--help`` stays fast."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping

from contract.settings import Settings
from livetally.exceptions import KafkaUnavailable, LivetallyError

__all__ = ["BadArgument", "dispatch"]

logger = logging.getLogger(__name__)


class BadArgument(LivetallyError):
    """An argument value argparse could not check; a usage error like argparse's own."""

    exit_code = 2


def dispatch(
    args: argparse.Namespace, settings: Settings, environ: Mapping[str, str] | None = None
) -> int:
    """Run the subcommand named in ``args``; ``environ`` (default ``os.environ``) is what
    a service run in the foreground reads its configuration from."""
    command: str = args.command
    if command == "kafka":
        from livetally import kafka_cluster, kafka_install

        if args.kafka_command == "start":
            print(kafka_cluster.start(settings, brokers=args.brokers, secure=args.secure))
        elif args.kafka_command == "stop":
            print(kafka_cluster.stop(settings))
        elif args.kafka_command == "fetch":
            libs = kafka_install.ensure_libs()
            print(f"Apache Kafka {kafka_install.kafka_version()} in {libs}")
        elif args.kafka_command == "setup":
            _kafka_setup(settings, acls=args.acls)
        elif args.kafka_command == "secrets":
            _kafka_secrets(args)
        else:
            print(kafka_cluster.status(settings))
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
    if command in ("stream", "partner", "token", "segment"):
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

        # Reading the stream's history from Kafka takes a while on a long stream.
        logger.info("exporting %s: reading its numbers from Kafka ...", args.stream)
        return export_command(args, settings)
    if command == "bench":
        from livetally.bench import run_bench

        return run_bench(settings, quick=args.quick, json_path=args.json)
    if command == "serve":
        return _serve(args, settings, os.environ if environ is None else environ)
    raise ValueError(f"unknown command {command!r}")  # argparse prevents this


def _kafka_setup(settings: Settings, *, acls: bool) -> None:
    from kafka.errors import KafkaError

    from contract.kafka_login import check_login
    from contract.topics import ensure_topics

    check_login(settings.kafka, timeout_s=60)
    try:
        created = ensure_topics(settings.kafka)
    except KafkaError as exc:  # e.g. a replication factor above the number of brokers
        raise KafkaUnavailable(
            f"creating livetally's topics on {settings.kafka.bootstrap} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    print(f"topics created: {', '.join(created) or 'none (all there)'}")
    if acls:
        from livetally.kafka_acls import grant_services

        count = grant_services(settings.kafka.client_options(), settings.kafka)
        print(f"ACLs in force: {count} grants for the services' users")


def _kafka_secrets(args: argparse.Namespace) -> None:
    from livetally.kafka_compose import Owner, write_secrets

    try:
        kafka_owner = Owner.parse(args.kafka_owner) if args.kafka_owner else None
        service_owner = Owner.parse(args.service_owner) if args.service_owner else None
    except ValueError as exc:
        raise BadArgument(str(exc)) from None
    try:
        write_secrets(args.directory, kafka_owner=kafka_owner, service_owner=service_owner)
    except (OSError, ValueError) as exc:  # unwritable, or a damaged file from a past run
        raise LivetallyError(f"cannot write the secrets under {args.directory}: {exc}") from None
    print(f"secrets of docker-compose.secure.yml in {args.directory}")


def _serve(args: argparse.Namespace, settings: Settings, environ: Mapping[str, str]) -> int:
    service: str = args.service
    if service == "ingest":
        from ingest.app import serve as serve_ingest
        from ingest.config import IngestConfig

        serve_ingest(IngestConfig.from_env(environ))
    elif service == "worker":
        from stream.app import serve as serve_worker
        from stream.config import StreamConfig

        serve_worker(StreamConfig.from_env(environ))
    elif service == "dashboard":
        from dashboard.app import serve as serve_dashboard
        from dashboard.config import DashboardConfig

        serve_dashboard(DashboardConfig.from_env(environ))
    else:
        from livetally.demo.replay import run_replay

        run_replay(settings, speed=args.speed, scale=args.scale)
    sys.stdout.flush()
    return 0
