"""Registration commands: streams, partners and their API keys, dashboard tokens."""

from __future__ import annotations

import argparse
import logging
import secrets
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TypeVar

from contract.kafka_login import explain
from contract.registry import (
    Partner,
    Registry,
    RegistryError,
    Role,
    Stream,
    Token,
    hash_secret,
    new_secret,
)
from contract.settings import KafkaSettings, Settings
from livetally.exceptions import KafkaUnavailable, LivetallyError

__all__ = [
    "InvalidRegistration",
    "UnknownPartner",
    "build_partner",
    "build_stream",
    "build_token",
    "format_partners",
    "format_streams",
    "register",
    "register_partner",
    "register_stream",
    "revoked_partner",
    "run",
]

_T = TypeVar("_T")


class InvalidRegistration(LivetallyError):
    """A registration breaks a rule (bad id, unknown time zone, bad timeout, ...)."""


class UnknownPartner(LivetallyError):
    """No partner is registered under the id given."""


# --- pure: building registry items -------------------------------------------------------


def build_stream(stream_id: str, title: str, tz: str = "Asia/Shanghai") -> Stream:
    """A stream record; raises ``InvalidRegistration`` saying what is wrong."""
    if not title.strip():
        raise InvalidRegistration("a stream needs a non-empty --title")
    try:
        return Stream(id=stream_id, title=title.strip(), tz=tz)
    except RegistryError as exc:
        raise InvalidRegistration(str(exc)) from None


def build_partner(
    partner_id: str,
    *,
    name: str,
    key: str,
    name_en: str = "",
    mode: str = "sessions",
    session_timeout_s: int = 30,
    rate: int = 5000,
) -> Partner:
    """A partner record holding only the hash of ``key``."""
    if not name.strip():
        raise InvalidRegistration("a partner needs a non-empty --name")
    try:
        return Partner(
            id=partner_id,
            name=name.strip(),
            name_en=name_en.strip(),
            mode=mode,  # type: ignore[arg-type]  # checked by Partner
            session_timeout_s=session_timeout_s,
            rate=rate,
            key_hash=hash_secret(key),
        )
    except RegistryError as exc:
        raise InvalidRegistration(str(exc)) from None


def build_token(role: str, *, secret: str, token_id: str, name: str = "") -> Token:
    """A dashboard token record holding only the hash of ``secret``."""
    if role not in ("viewer", "admin"):
        raise InvalidRegistration("token role must be viewer or admin")
    checked: Role = "admin" if role == "admin" else "viewer"
    return Token(id=token_id, role=checked, name=name.strip(), token_hash=hash_secret(secret))


def revoked_partner(registry: Registry, partner_id: str) -> Partner:
    """The partner ``partner_id`` marked revoked; ``UnknownPartner`` if it is not registered."""
    partner = registry.partners.get(partner_id)
    if partner is None:
        known = ", ".join(sorted(registry.partners)) or "none registered"
        raise UnknownPartner(f"no partner with id {partner_id!r} (known: {known})")
    return replace(partner, revoked=True)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    all_rows = [list(header), *(list(r) for r in rows)]
    widths = [max(_width(row[i]) for row in all_rows) for i in range(len(header))]
    lines = [
        "  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True))
        for row in all_rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def _width(text: str) -> int:
    # CJK characters take two terminal columns.
    return sum(2 if ord(ch) >= 0x1100 and not 0xFF61 <= ord(ch) <= 0xFFDC else 1 for ch in text)


def format_streams(streams: Iterable[Stream]) -> str:
    """Streams as a text table."""
    rows = [(s.id, s.title, s.tz) for s in sorted(streams, key=lambda s: s.id)]
    if not rows:
        return "no streams registered"
    return _table(("id", "title", "tz"), rows)


def format_partners(partners: Iterable[Partner]) -> str:
    """Partners as a text table (never their keys or key hashes)."""
    rows = [
        (
            p.id,
            p.name,
            p.name_en or "-",
            p.mode,
            f"{p.session_timeout_s}s",
            f"{p.rate}/s",
            "yes" if p.revoked else "no",
        )
        for p in sorted(partners, key=lambda p: p.id)
    ]
    if not rows:
        return "no partners registered"
    return _table(("id", "name", "name_en", "mode", "timeout", "rate", "revoked"), rows)


# --- I/O: the registry topic --------------------------------------------------------------


def _kafka_call(kafka: KafkaSettings, action: Callable[[], _T]) -> _T:
    from kafka.errors import KafkaError

    try:
        return action()
    except (KafkaError, TimeoutError) as exc:
        reason = explain(exc, kafka)
        if reason is not None:
            raise KafkaUnavailable(reason) from None
        raise KafkaUnavailable(
            f"Kafka is not reachable at {kafka.bootstrap} ({type(exc).__name__}): "
            "run `livetally up` or `livetally kafka start`"
        ) from None


def _probe(kafka: KafkaSettings, timeout_s: float = 3.0) -> None:
    """Fail fast when no bootstrap server accepts a connection (kafka-python waits ~30 s)."""
    for server in kafka.servers:
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout_s):
                return
        except (OSError, ValueError):
            continue
    raise KafkaUnavailable(
        f"Kafka is not reachable at {kafka.bootstrap}: "
        "run `livetally up` or `livetally kafka start`"
    )


def _prepare(settings: Settings) -> None:
    from contract.topics import ensure_topics

    _probe(settings.kafka)
    _kafka_call(settings.kafka, lambda: ensure_topics(settings.kafka))


def _put(settings: Settings, item: Stream | Partner | Token) -> None:
    from contract.registry_store import RegistryStore

    store = RegistryStore(settings.kafka)
    _kafka_call(settings.kafka, lambda: store.put(item))


def _load(settings: Settings) -> Registry:
    from contract.registry_store import RegistryStore

    store = RegistryStore(settings.kafka)
    return _kafka_call(settings.kafka, store.load)


def register(settings: Settings, *items: Stream | Partner | Token) -> None:
    """Make sure the topics exist and write ``items`` to the registry, in order."""
    _prepare(settings)
    for item in items:
        _put(settings, item)


def register_stream(settings: Settings, stream: Stream) -> None:
    """Make sure the topics exist and write ``stream`` to the registry."""
    _prepare(settings)
    _put(settings, stream)


def register_partner(settings: Settings, partner: Partner) -> None:
    """Make sure the topics exist and write ``partner`` to the registry."""
    _prepare(settings)
    _put(settings, partner)


def _partner_add(args: argparse.Namespace, settings: Settings) -> list[str]:
    key = new_secret("ltk")
    partner = build_partner(
        args.id,
        name=args.name,
        key=key,
        name_en=args.name_en,
        mode=args.mode,
        session_timeout_s=args.session_timeout,
        rate=args.rate,
    )
    _prepare(settings)
    existed = partner.id in _load(settings).partners
    _put(settings, partner)
    lines = [
        f"{'replaced' if existed else 'registered'} partner {partner.id} "
        f"({partner.name}{' / ' + partner.name_en if partner.name_en else ''}): "
        f"mode {partner.mode}, session timeout {partner.session_timeout_s}s, "
        f"rate {partner.rate} events/s"
    ]
    if existed:
        lines.append("its previous settings and API key were replaced; the old key no longer works")
    lines.append("API key (shown only once; store it safely):")
    lines.append(key)
    return lines


def _partner_revoke(args: argparse.Namespace, settings: Settings) -> list[str]:
    _prepare(settings)
    partner = revoked_partner(_load(settings), args.id)
    _put(settings, partner)
    return [f"revoked the API key of partner {partner.id}; its events are now refused"]


def _token_create(args: argparse.Namespace, settings: Settings) -> list[str]:
    secret = new_secret("ltt")
    token = build_token(args.role, secret=secret, token_id=secrets.token_hex(4), name=args.name)
    _prepare(settings)
    _put(settings, token)
    label = f" ({token.name})" if token.name else ""
    return [
        f"created {token.role} token {token.id}{label}",
        "token (shown only once):",
        secret,
    ]


def _lines(args: argparse.Namespace, settings: Settings) -> list[str]:
    command: str = args.command
    if command == "stream":
        if args.stream_command == "add":
            stream = build_stream(args.id, args.title, args.tz)
            register_stream(settings, stream)
            return [f"registered stream {stream.id}: {stream.title} ({stream.tz})"]
        _prepare(settings)
        return [format_streams(_load(settings).streams.values())]
    if command == "partner":
        if args.partner_command == "add":
            return _partner_add(args, settings)
        if args.partner_command == "revoke":
            return _partner_revoke(args, settings)
        _prepare(settings)
        return [format_partners(_load(settings).partners.values())]
    if command == "token":
        return _token_create(args, settings)
    raise ValueError(f"not a registration command: {command!r}")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run a ``stream``, ``partner`` or ``token`` subcommand; print its result; return 0."""
    # kafka-python logs every connection at INFO; a one-shot command only needs problems.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    for line in _lines(args, settings):
        print(line)
    return 0
