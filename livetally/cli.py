"""The ``livetally`` command line: Kafka, processes, registration, demo, services."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from contract.registry import (
    DEFAULT_KEY_GRACE_S,
    DEFAULT_RATE,
    DEFAULT_SESSION_TIMEOUT_S,
    DEFAULT_TZ,
    ROLES,
)
from contract.settings import Settings, SettingsError
from livetally import __version__

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "build_parser", "checkout_home", "log_level", "main"]

EXIT_ERROR = 1
"""Exit status of a command that failed (Kafka unreachable, unknown id, refused add, ...)."""
EXIT_USAGE = 2
"""Exit status of a command line that is wrong (argparse's own, and bad argument values)."""

_EPILOG = """\
exit status: 0 done; 1 the command failed (Kafka not reachable, unknown id, an add
refused, ...); 2 the command line is wrong, or no COMMAND was given (this help is printed);
130 interrupted.

LIVETALLY_HOME (Kafka data, logs, pid files) defaults to .livetally at the root of the
livetally checkout when run anywhere inside it, else to ./.livetally. Log level: -v, -q or
LIVETALLY_LOG_LEVEL (DEBUG, INFO, WARNING, ERROR; default INFO).
"""


_SECURE_HELP = (
    "a SASL_SSL listener with one SCRAM user per service and least-privilege ACLs "
    "(credentials in $LIVETALLY_HOME/kafka/credentials.json); a home once secured stays so"
)


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _verbosity(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # Below the top level the defaults are suppressed, so `livetally -v up` and
    # `livetally up -v` both count.
    default: object = 0 if top else argparse.SUPPRESS
    group = parser.add_argument_group("output")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default,
        help="more log output (-vv: also the Kafka and HTTP clients')",
    )
    group.add_argument(
        "-q", "--quiet", action="count", default=default, help="only warnings (-qq: errors)"
    )


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += [child, *_subparsers(child)]
    return found


def _cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--brokers",
        type=int,
        choices=(1, 3),
        default=None,
        help="local Kafka nodes when it is not running yet (default: as formatted, else 1)",
    )
    parser.add_argument("--secure", action="store_true", help=_SECURE_HELP)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every subcommand and its options)."""
    parser = argparse.ArgumentParser(
        prog="livetally",
        description="Exact livestream audience analytics: ingest, Kafka, Faust, Dash.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"livetally {__version__}")
    _verbosity(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    kafka = sub.add_parser("kafka", help="run a local Apache Kafka (KRaft) from Maven Central")
    kafka_sub = kafka.add_subparsers(dest="kafka_command", required=True, metavar="ACTION")
    start = kafka_sub.add_parser("start", help="start local broker(s) and wait until they answer")
    start.add_argument("--brokers", type=int, choices=(1, 3), default=1, help="1 or 3 nodes")
    start.add_argument("--secure", action="store_true", help=_SECURE_HELP)
    kafka_sub.add_parser("stop", help="stop the local broker(s)")
    kafka_sub.add_parser(
        "fetch", help="download the Apache Kafka jars with Maven into the user cache (once)"
    )
    kafka_sub.add_parser("status", help="show the local brokers and the Kafka version")
    setup = kafka_sub.add_parser(
        "setup",
        help="create livetally's topics on the cluster LIVETALLY_BOOTSTRAP names (idempotent; "
        "run with an admin user's settings)",
    )
    setup.add_argument(
        "--acls",
        action="store_true",
        help="also give the users livetally-ingest, -worker, -dashboard and -registrar their "
        "least-privilege ACLs (docs/deploy.md)",
    )
    secrets = kafka_sub.add_parser(
        "secrets",
        help="write the CA, users and broker files of docker-compose.secure.yml under DIR "
        "(kept if there)",
    )
    secrets.add_argument("directory", metavar="DIR", type=Path)
    secrets.add_argument(
        "--kafka-owner", metavar="UID[:GID]", help="hand DIR/kafka to the broker's user"
    )
    secrets.add_argument(
        "--service-owner", metavar="UID[:GID]", help="hand DIR/<service> to the services' user"
    )

    up = sub.add_parser(
        "up", help="start Kafka, the worker, ingest and the dashboard in the background"
    )
    _cluster_options(up)
    sub.add_parser("down", help="stop every process livetally started")
    sub.add_parser("status", help="show each process, its pid, health and log file")

    stream = sub.add_parser("stream", help="register live streams")
    stream_sub = stream.add_subparsers(dest="stream_command", required=True, metavar="ACTION")
    stream_add = stream_sub.add_parser(
        "add",
        help="register a live stream (again with the same settings: nothing changes)",
        epilog=_examples(
            'livetally stream add carnival-2024 --title "社区邻里嘉年华" --tz Asia/Shanghai'
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    stream_add.add_argument("id")
    stream_add.add_argument("--title", required=True)
    stream_add.add_argument(
        "--tz", default=DEFAULT_TZ, help=f"IANA time zone (default: {DEFAULT_TZ})"
    )
    stream_add.add_argument(
        "--replace", action="store_true", help="replace a stream registered with other settings"
    )
    stream_update = stream_sub.add_parser("update", help="change a stream's title or time zone")
    stream_update.add_argument("id")
    stream_update.add_argument("--title", default=None)
    stream_update.add_argument("--tz", default=None, help="IANA time zone")
    stream_sub.add_parser("list", help="list registered streams")

    partner = sub.add_parser("partner", help="register partner platforms and their API keys")
    partner_sub = partner.add_subparsers(dest="partner_command", required=True, metavar="ACTION")
    partner_add = partner_sub.add_parser(
        "add",
        help="register a partner; prints its new API key as the last line",
        description="Register a partner and print its new API key (shown only once) as the "
        "last line. An id whose key is live is refused (exit 1, its key stays valid) "
        "unless --replace.",
        epilog=_examples(
            "livetally partner add scnews --name 四川新闻网 --name-en 'Sichuan News Network'",
            "livetally partner add cctv --name 央视 --mode reports --rate 200",
            "livetally partner add scnews --name 四川新闻网 --replace   # ends the old key now",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    partner_add.add_argument("id")
    partner_add.add_argument("--name", required=True, help="display name (Chinese)")
    partner_add.add_argument("--name-en", default="", help="English display name")
    partner_add.add_argument("--mode", choices=("sessions", "reports"), default="sessions")
    partner_add.add_argument(
        "--session-timeout",
        type=int,
        default=DEFAULT_SESSION_TIMEOUT_S,
        metavar="SECONDS",
        help=f"default: {DEFAULT_SESSION_TIMEOUT_S}",
    )
    partner_add.add_argument(
        "--rate",
        type=int,
        default=DEFAULT_RATE,
        metavar="EVENTS_PER_S",
        help=f"default: {DEFAULT_RATE}",
    )
    partner_add.add_argument(
        "--streams",
        default="",
        metavar="ID,ID",
        help="the only streams it may post to (default: any); it is listed in them at once",
    )
    partner_add.add_argument(
        "--replace",
        action="store_true",
        help="replace a registered partner: new settings and key, its old key stops at once",
    )
    rotate = partner_sub.add_parser(
        "rotate-key",
        help="give a partner a new API key; the old one keeps working for --grace",
        epilog=_examples(
            "livetally partner rotate-key scnews",
            "livetally partner rotate-key scnews --grace 1h",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rotate.add_argument("id")
    rotate.add_argument(
        "--grace",
        default=f"{DEFAULT_KEY_GRACE_S // 60}m",
        metavar="DURATION",
        help="how long the old key stays valid: 0, 90s, 30m, 12h, 7d "
        f"(default: {DEFAULT_KEY_GRACE_S // 60}m)",
    )
    partner_update = partner_sub.add_parser(
        "update", help="change a partner's names, rate or session timeout (its key is kept)"
    )
    partner_update.add_argument("id")
    partner_update.add_argument("--name", default=None, help="display name (Chinese)")
    partner_update.add_argument("--name-en", default=None, help="English display name")
    partner_update.add_argument("--session-timeout", type=int, default=None, metavar="SECONDS")
    partner_update.add_argument("--rate", type=int, default=None, metavar="EVENTS_PER_S")
    partner_update.add_argument(
        "--streams",
        default=None,
        metavar="ID,ID|all",
        help="the only streams it may post to; 'all' lifts the limit",
    )
    partner_sub.add_parser("list", help="list partners (keys are never shown)")
    partner_revoke = partner_sub.add_parser("revoke", help="revoke a partner's API key")
    partner_revoke.add_argument("id")

    segment = sub.add_parser(
        "segment", help="a stream's programme (节目单): segments shown on charts and reports"
    )
    segment_sub = segment.add_subparsers(dest="segment_command", required=True, metavar="ACTION")
    segment_add = segment_sub.add_parser(
        "add",
        help="add a programme segment; prints its id",
        description="Add a segment to a stream's programme. Without --end it lasts until "
        "the next segment starts. Times are RFC 3339 or epoch ms; without an offset they "
        "are in the stream's time zone. Segments must not overlap.",
        epilog=_examples(
            "livetally segment add carnival-2024 --start 2024-12-21T19:00 --title 开幕式 "
            "--title-en 'Opening ceremony'",
            "livetally segment add carnival-2024 --start 2024-12-21T19:30 --title 街舞表演 "
            "--end 2024-12-21T19:50",
            "livetally segment add carnival-2024 --id opening --start 2024-12-21T19:02 "
            "--title 开幕式 --replace",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    segment_add.add_argument("stream")
    segment_add.add_argument("--start", required=True, metavar="TIME")
    segment_add.add_argument("--title", required=True, help="title (Chinese)")
    segment_add.add_argument("--title-en", default="", help="English title")
    segment_add.add_argument(
        "--end", default=None, metavar="TIME", help="default: when the next segment starts"
    )
    segment_add.add_argument("--id", default=None, help="segment id (default: a new short id)")
    segment_add.add_argument(
        "--replace", action="store_true", help="change the segment with this --id in place"
    )
    segment_list = segment_sub.add_parser(
        "list", help="list a stream's segments in order, with when each ends"
    )
    segment_list.add_argument("stream")
    segment_remove = segment_sub.add_parser("remove", help="remove a segment")
    segment_remove.add_argument("stream")
    segment_remove.add_argument("segment_id", metavar="SEGMENT_ID")

    token = sub.add_parser("token", help="dashboard/API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    token_create = token_sub.add_parser(
        "create",
        help="create a token; prints it as the last line",
        epilog=_examples(
            "livetally token create --role viewer --name wall --expires 2d",
            "livetally token create --role public --stream carnival-2024 --name 四川新闻网",
            "livetally token create --role viewer --stream carnival-2024 --name 编辑部",
            "livetally token create --role partner --partner kandu --name 看度",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    token_create.add_argument(
        "--role",
        choices=ROLES,
        required=True,
        help="viewer: the dashboard and API; admin: also /admin; public: only one stream's "
        "public live counter (/api/v1/public/live, /embed), needs --stream; partner: one "
        "partner's own numbers, feed status and rejections, needs --partner",
    )
    token_create.add_argument(
        "--stream",
        action="append",
        metavar="ID",
        help="the stream a public token reads; for a viewer or partner token, a stream it is "
        "limited to (repeat for several; default: every stream)",
    )
    token_create.add_argument(
        "--partner", default="", metavar="ID", help="the partner a partner token reads"
    )
    token_create.add_argument("--name", default="")
    token_create.add_argument(
        "--expires",
        default=None,
        metavar="DURATION",
        help="refuse the token after this long: 90s, 30m, 12h, 7d (default: until revoked)",
    )
    token_sub.add_parser("list", help="list tokens: id, role, name, state, created, expires")
    token_revoke = token_sub.add_parser("revoke", help="revoke a token; its sessions end")
    token_revoke.add_argument("id")

    demo = sub.add_parser(
        "demo",
        help="start everything and replay the 2024 carnival through the ingest API",
        epilog=_examples(
            "livetally demo                           # the real evening, in real time",
            "livetally demo --speed 10 --scale 0.05   # ten times faster, 5 % of the audience",
            "livetally demo --brokers 3 --secure      # on three secured local brokers",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--speed", type=float, default=1.0, help="time compression factor")
    demo.add_argument("--scale", type=float, default=1.0, help="audience scale (1 = 1M views)")
    _cluster_options(demo)

    send = sub.add_parser(
        "send",
        help="post an NDJSON file of events to the ingest API",
        epilog=_examples(
            "LIVETALLY_KEY=ltk_... livetally send events.ndjson",
            "livetally send events.ndjson --key-file ~/.config/scnews.key",
            "gunzip -c day1.ndjson.gz | livetally send - --key-file key.txt "
            "--url https://ingest.example",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    send.add_argument("file", help="NDJSON file, one event per line ('-' for stdin)")
    key = send.add_mutually_exclusive_group()
    key.add_argument(
        "--key-file", default=None, metavar="FILE", help="file whose first line is the API key"
    )
    key.add_argument(
        "--key",
        default=None,
        help="the partner API key (visible to other users of the machine; prefer "
        "LIVETALLY_KEY or --key-file)",
    )
    send.add_argument("--url", default=None, help="ingest base URL (default from settings)")

    export = sub.add_parser(
        "export",
        help="export a stream's numbers to a file",
        epilog=_examples(
            "livetally export carnival-2024 -o carnival.csv",
            "livetally export carnival-2024 --format xlsx --lang en -o carnival.xlsx",
            "livetally export carnival-2024 --resolution 1s --from 2024-12-21T19:30:00 "
            "--to 2024-12-21T20:00:00 -o peak.parquet --format parquet",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("stream")
    export.add_argument("--format", choices=("csv", "xlsx", "parquet", "json"), default="csv")
    export.add_argument("--resolution", choices=("1s", "10s", "1m", "5m", "1h"), default="1m")
    export.add_argument("--lang", choices=("zh", "en"), default="zh")
    export.add_argument(
        "--from",
        dest="from_",
        default=None,
        metavar="TIME",
        help="RFC 3339 or epoch ms; without an offset, in the stream's time zone",
    )
    export.add_argument("--to", default=None, metavar="TIME", help="like --from")
    export.add_argument("-o", "--output", required=True, help="file to write")

    bench = sub.add_parser("bench", help="run the benchmark suite on its own stack")
    bench.add_argument("--quick", action="store_true", help="a smoke run of a few minutes")
    bench.add_argument("--json", default=None, metavar="FILE", help="also write results as JSON")

    serve = sub.add_parser("serve", help="run one service in the foreground")
    serve.add_argument("service", choices=("ingest", "worker", "dashboard", "replay"))
    serve.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)
    serve.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
    for child in _subparsers(parser):
        _verbosity(child, top=False)
    return parser


def checkout_home(cwd: Path, checkout: Path) -> Path | None:
    """``<checkout>/.livetally`` when ``cwd`` is inside the livetally source checkout
    ``checkout`` (one holding ``pyproject.toml``), else None."""
    if not (checkout / "pyproject.toml").is_file():
        return None  # an installed package: no checkout to anchor the home in
    if cwd != checkout and checkout not in cwd.parents:
        return None
    return checkout / ".livetally"


def settings_environ(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """The environment to read settings from: ``environ`` with ``LIVETALLY_HOME`` set to
    the checkout's home when it is unset and ``cwd`` is inside the checkout, so that every
    directory of the checkout finds the same running stack."""
    env = dict(environ)
    if not env.get("LIVETALLY_HOME"):
        home = checkout_home(cwd.resolve(), Path(__file__).resolve().parent.parent)
        if home is not None:
            env["LIVETALLY_HOME"] = str(home)
    return env


def log_level(environ: Mapping[str, str], verbose: int, quiet: int) -> int:
    """The log level from ``LIVETALLY_LOG_LEVEL`` (default INFO), ten lower per ``-v``
    and ten higher per ``-q``."""
    raw = environ.get("LIVETALLY_LOG_LEVEL", "").strip().upper()
    if not raw:
        base = logging.INFO
    elif raw.isdigit():
        base = int(raw)
    else:
        named = logging.getLevelNamesMapping().get(raw)
        if named is None:
            raise SettingsError(
                f"LIVETALLY_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {raw!r}"
            )
        base = named
    return max(logging.DEBUG, min(logging.CRITICAL, base - 10 * verbose + 10 * quiet))


def _configure_logging(level: int, verbose: int) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    # Client libraries log every connection and request at INFO; keep the CLI readable
    # unless asked twice for more.
    noisy_level = logging.DEBUG if verbose >= 2 else max(level, logging.WARNING)
    for noisy in ("kafka", "aiokafka", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(noisy_level)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the CLI; return the process exit code (see ``EXIT_ERROR``, ``EXIT_USAGE``).

    ``environ`` defaults to ``os.environ``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from livetally import commands
    from livetally.exceptions import LivetallyError

    env = settings_environ(os.environ if environ is None else environ, Path.cwd())
    try:
        _configure_logging(log_level(env, args.verbose, args.quiet), args.verbose)
        return commands.dispatch(args, Settings.from_env(env), env)
    except (LivetallyError, SettingsError) as exc:
        print(f"livetally: {exc}", file=sys.stderr)
        code: int = getattr(exc, "exit_code", EXIT_ERROR)
        return code
    except KeyboardInterrupt:
        return 130
