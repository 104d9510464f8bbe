"""Registration commands: streams, partners and their API keys, dashboard tokens."""

from __future__ import annotations

import argparse
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from contract import registry_actions as actions
from contract.durations import parse_duration
from contract.instants import parse_second
from contract.registry import (
    DEFAULT_RATE,
    DEFAULT_SESSION_TIMEOUT_S,
    DEFAULT_TZ,
    AlreadyRegistered,
    Clash,
    NotRegistered,
    Partner,
    PartnerRevoked,
    Registry,
    RegistryError,
    Segment,
    Stream,
    Token,
)
from contract.settings import Settings
from livetally.exceptions import LivetallyError
from livetally.registry_topic import KafkaRegistry, RegistryIO
from livetally.tables import (
    format_partners,
    format_programme,
    format_streams,
    format_tokens,
    instant_text,
)

__all__ = [
    "AlreadyExists",
    "Change",
    "InvalidRegistration",
    "UnknownItem",
    "UnknownPartner",
    "build_partner",
    "build_stream",
    "build_token",
    "decide",
    "parse_grace",
    "revoked_partner",
    "revoked_token",
    "run",
]

_ZERO = re.compile(r"^\s*0+\s*[smhd]?\s*$")


class InvalidRegistration(LivetallyError):
    """A registration breaks a rule (bad id, unknown time zone, bad timeout, ...)."""

    exit_code = 2
    """A bad argument value: a usage error, like the ones argparse reports."""


class UnknownPartner(LivetallyError):
    """No partner is registered under the id given."""


class UnknownItem(LivetallyError):
    """No stream or token is registered under the id given."""


class AlreadyExists(LivetallyError):
    """What is registered refuses the change (an id taken, a partner revoked); nothing was
    changed."""


# --- pure: building registry items -------------------------------------------------------
# The rules live in contract.registry_actions (the dashboard uses the same); these wrap
# them in the CLI's errors.


@contextmanager
def _registration() -> Iterator[None]:
    try:
        yield
    except NotRegistered as exc:
        if exc.kind == "partner":
            raise UnknownPartner(str(exc)) from None
        raise UnknownItem(str(exc)) from None
    except (AlreadyRegistered, PartnerRevoked, Clash) as exc:
        raise AlreadyExists(str(exc)) from None
    except RegistryError as exc:
        raise InvalidRegistration(str(exc)) from None


def build_stream(stream_id: str, title: str, tz: str = DEFAULT_TZ) -> Stream:
    """A stream record; raises ``InvalidRegistration`` saying what is wrong."""
    if not title.strip():
        raise InvalidRegistration("a stream needs a non-empty --title")
    with _registration():
        return actions.add_stream(Registry(), stream_id, title=title, tz=tz)


def build_partner(
    partner_id: str,
    *,
    name: str,
    key: str,
    name_en: str = "",
    mode: str = "sessions",
    session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S,
    rate: int = DEFAULT_RATE,
) -> Partner:
    """A partner record holding only the hash of ``key``."""
    if not name.strip():
        raise InvalidRegistration("a partner needs a non-empty --name")
    with _registration():
        partner, _ = actions.add_partner(
            Registry(),
            partner_id,
            name=name,
            name_en=name_en,
            mode=mode,
            session_timeout_s=session_timeout_s,
            rate=rate,
            key=key,
        )
    return partner


def build_token(
    role: str,
    *,
    secret: str,
    token_id: str,
    name: str = "",
    expires: str = "",
    now_ms: int | None = None,
) -> Token:
    """A dashboard token record holding only the hash of ``secret``.

    ``expires`` is a duration (``90s``, ``30m``, ``12h``, ``7d``) from ``now_ms``; empty
    for a token that lasts until it is revoked.
    """
    with _registration():
        token, _ = actions.create_token(
            role, name=name, expires=expires, now_ms=now_ms, token_id=token_id, secret=secret
        )
    return token


def revoked_token(registry: Registry, token_id: str) -> Token:
    """The token ``token_id`` marked revoked; ``UnknownItem`` if there is none."""
    with _registration():
        return actions.revoke_token(registry, token_id)


def revoked_partner(registry: Registry, partner_id: str) -> Partner:
    """The partner ``partner_id`` marked revoked; ``UnknownPartner`` if it is not registered."""
    with _registration():
        return actions.revoke_partner(registry, partner_id)


def parse_streams(text: str) -> tuple[str, ...]:
    """A ``--streams`` list: comma-separated ids; empty or ``all``: no limit."""
    if text.strip().lower() in ("", "all"):
        return ()
    return tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def _describe(partner: Partner) -> str:
    names = partner.name + (f" / {partner.name_en}" if partner.name_en else "")
    limit = f", streams {', '.join(partner.streams)} only" if partner.streams else ""
    return (
        f"partner {partner.id} ({names}){limit}: mode {partner.mode}, session timeout "
        f"{partner.session_timeout_s}s, rate {partner.rate} events/s"
    )


def parse_grace(text: str) -> int:
    """Seconds of a ``--grace`` duration (``0`` ends the old key at once)."""
    if _ZERO.match(text):
        return 0
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise InvalidRegistration(f"--grace: {exc}") from None


def _partner_add(args: argparse.Namespace, registry: Registry) -> Change:
    with _registration():
        try:
            partner, key = actions.add_partner(
                registry,
                args.id,
                name=args.name,
                name_en=args.name_en,
                mode=args.mode,
                session_timeout_s=args.session_timeout,
                rate=args.rate,
                streams=parse_streams(args.streams),
                replace_existing=args.replace,
            )
        except AlreadyRegistered as exc:
            raise AlreadyExists(
                f"{exc}; `livetally partner rotate-key {args.id}` gives it a new key and keeps "
                "the old one working for a while, `partner update` changes its settings, "
                "`partner add --replace` ends its key at once"
            ) from None
    existed = args.id in registry.partners
    lines = [f"{'replaced' if existed else 'registered'} {_describe(partner)}"]
    if existed and not registry.partners[args.id].revoked:
        lines.append("its previous settings and API key were replaced; the old key no longer works")
    lines += ["API key (shown only once; store it safely):", key]
    return Change(partner, lines)


def _partner_rotate(args: argparse.Namespace, registry: Registry) -> Change:
    grace_s = parse_grace(args.grace)
    with _registration():
        partner, key = actions.rotate_key(registry, args.id, grace_s=grace_s)
    if grace_s:
        until = instant_text(partner.previous_key_expires_at)
        old = f"the old key keeps working until {until} ({args.grace.strip()})"
    else:
        old = "the old key no longer works"
    return Change(
        partner,
        [
            f"new API key for partner {partner.id}; {old}",
            "API key (shown only once; store it safely):",
            key,
        ],
    )


def _partner_update(args: argparse.Namespace, registry: Registry) -> Change:
    with _registration():
        partner = actions.update_partner(
            registry,
            args.id,
            name=args.name,
            name_en=args.name_en,
            session_timeout_s=args.session_timeout,
            rate=args.rate,
            streams=None if args.streams is None else parse_streams(args.streams),
        )
    return Change(partner, [f"updated {_describe(partner)}; its API key is unchanged"])


def _partner_revoke(args: argparse.Namespace, registry: Registry) -> Change:
    partner = revoked_partner(registry, args.id)
    return Change(
        partner, [f"revoked the API key of partner {partner.id}; its events are now refused"]
    )


def _stream_add(args: argparse.Namespace, registry: Registry) -> Change:
    if not args.title.strip():
        raise InvalidRegistration("a stream needs a non-empty --title")
    with _registration():
        try:
            stream = actions.add_stream(
                registry, args.id, title=args.title, tz=args.tz, replace_existing=args.replace
            )
        except AlreadyRegistered as exc:
            raise AlreadyExists(
                f"{exc}: `livetally stream update {args.id} --title ...` or `stream add --replace`"
            ) from None
    if registry.streams.get(stream.id) == stream:
        return Change(
            None, [f"stream {stream.id} is already registered: {stream.title} ({stream.tz})"]
        )
    verb = "replaced" if stream.id in registry.streams else "registered"
    return Change(stream, [f"{verb} stream {stream.id}: {stream.title} ({stream.tz})"])


def _stream_update(args: argparse.Namespace, registry: Registry) -> Change:
    with _registration():
        stream = actions.update_stream(registry, args.id, title=args.title, tz=args.tz)
    return Change(stream, [f"updated stream {stream.id}: {stream.title} ({stream.tz})"])


def _token_create(args: argparse.Namespace, registry: Registry) -> Change:
    streams = tuple(getattr(args, "stream", None) or ())
    with _registration():
        try:
            token, secret = actions.create_token(
                args.role,
                name=args.name,
                expires=args.expires or "",
                streams=streams,
                partner=getattr(args, "partner", "") or "",
                registry=registry,
            )
        except actions.BadDuration as exc:
            raise RegistryError(f"--expires: {exc}") from None
    label = f" ({token.name})" if token.name else ""
    if token.partner:
        label += f" for partner {token.partner}"
    if token.streams:
        label += f" for stream {', '.join(token.streams)}"
    until = f", expires {instant_text(token.expires_at)}" if token.expires_at else ""
    return Change(
        token,
        [
            f"created {token.role} token {token.id}{label}{until}",
            "token (shown only once):",
            secret,
        ],
    )


def _token_revoke(args: argparse.Namespace, registry: Registry) -> Change:
    token = revoked_token(registry, args.id)
    return Change(token, [f"revoked token {token.id}; its sign-ins end at their next request"])


def _segment_time(option: str, text: str, tz: str) -> int:
    try:
        return parse_second(text, tz)
    except ValueError as exc:
        raise InvalidRegistration(f"{option} {exc}") from None


def _segment_add(args: argparse.Namespace, registry: Registry) -> Change:
    with _registration():
        stream = actions.stream_of(registry, args.stream)
        start = _segment_time("--start", args.start, stream.tz)
        end = 0 if args.end is None else _segment_time("--end", args.end, stream.tz)
        try:
            segment = actions.add_segment(
                registry,
                stream.id,
                start=start,
                end=end,
                title=args.title,
                title_en=args.title_en,
                segment_id=args.id,
                replace_existing=args.replace,
            )
        except AlreadyRegistered as exc:
            raise AlreadyExists(
                f"{exc} (`livetally segment add {args.stream} --id {args.id} ... --replace`)"
            ) from None
    verb = "replaced" if (stream.id, segment.id) in registry.segments else "added"
    when = instant_text(segment.start * 1000)
    return Change(segment, [f"{verb} segment {segment.id} of {stream.id}: {segment.title}, {when}"])


def _segment_remove(args: argparse.Namespace, registry: Registry) -> Change:
    with _registration():
        key = actions.remove_segment(registry, args.stream, args.segment_id)
    return Change(None, [f"removed segment {args.segment_id} of {args.stream}"], removed=key)


def _segment_list(args: argparse.Namespace, registry: Registry) -> Change:
    with _registration():
        stream = actions.stream_of(registry, args.stream)
    return Change(None, [format_programme(registry.programme(stream.id), stream.tz)])


def _listing(args: argparse.Namespace, registry: Registry) -> Change:
    command: str = args.command
    if command == "stream":
        return Change(None, [format_streams(registry.streams.values())])
    if command == "partner":
        return Change(None, [format_partners(registry.partners.values())])
    return Change(None, [format_tokens(registry.tokens.values(), int(time.time() * 1000))])


@dataclass(frozen=True)
class Change:
    """What a subcommand decided: the record to write (``None``: nothing), the record key
    to delete, and what to print."""

    item: Stream | Partner | Token | Segment | None
    lines: list[str]
    removed: str | None = None


_ACTIONS: dict[tuple[str, str], Callable[[argparse.Namespace, Registry], Change]] = {
    ("stream", "add"): _stream_add,
    ("stream", "update"): _stream_update,
    ("stream", "list"): _listing,
    ("partner", "add"): _partner_add,
    ("partner", "rotate-key"): _partner_rotate,
    ("partner", "update"): _partner_update,
    ("partner", "revoke"): _partner_revoke,
    ("partner", "list"): _listing,
    ("token", "create"): _token_create,
    ("token", "revoke"): _token_revoke,
    ("token", "list"): _listing,
    ("segment", "add"): _segment_add,
    ("segment", "list"): _segment_list,
    ("segment", "remove"): _segment_remove,
}


def decide(args: argparse.Namespace, registry: Registry) -> Change:
    """What a ``stream``, ``partner``, ``token`` or ``segment`` subcommand does to
    ``registry`` (pure)."""
    command: str = args.command
    action: str = getattr(args, f"{command}_command", "")
    handler = _ACTIONS.get((command, action))
    if handler is None:
        raise ValueError(f"not a registration command: {command} {action}")
    return handler(args, registry)


def run(args: argparse.Namespace, settings: Settings, io: RegistryIO | None = None) -> int:
    """Run a ``stream``, ``partner``, ``token`` or ``segment`` subcommand; print its
    result; return 0.

    ``io`` defaults to the registry topic of ``settings``.
    """
    # kafka-python logs every connection at INFO; a one-shot command only needs problems.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    store = KafkaRegistry(settings) if io is None else io
    change = decide(args, store.load())
    if change.item is not None:
        store.put(change.item)
    if change.removed is not None:
        store.delete(change.removed)
    for line in change.lines:
        print(line)
    return 0
