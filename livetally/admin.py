"""Registration commands: streams, partners and their API keys, dashboard tokens."""

from __future__ import annotations

import argparse
import logging
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar

from contract.durations import parse_duration
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
    "format_tokens",
    "load_registry",
    "register",
    "register_partner",
    "register_stream",
    "revoked_partner",
    "revoked_token",
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
    if role not in ("viewer", "admin"):
        raise InvalidRegistration("token role must be viewer or admin")
    checked: Role = "admin" if role == "admin" else "viewer"
    now = int(time.time() * 1000) if now_ms is None else now_ms
    expires_at = 0
    if expires.strip():
        try:
            expires_at = now + parse_duration(expires) * 1000
        except ValueError as exc:
            raise InvalidRegistration(f"--expires: {exc}") from None
    return Token(
        id=token_id,
        role=checked,
        name=name.strip(),
        token_hash=hash_secret(secret),
        expires_at=expires_at,
        created_at=now,
    )


def revoked_token(registry: Registry, token_id: str) -> Token:
    """The token ``token_id`` marked revoked; ``InvalidRegistration`` if there is none."""
    token = registry.tokens.get(token_id)
    if token is None:
        known = ", ".join(sorted(registry.tokens)) or "none created"
        raise InvalidRegistration(f"no token with id {token_id!r} (known: {known})")
    return replace(token, revoked=True)


def _instant(ms: int) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def format_tokens(tokens: Iterable[Token], now_ms: int) -> str:
    """Tokens as a text table (never the tokens or their hashes)."""
    rows = []
    for t in sorted(tokens, key=lambda t: (t.created_at, t.id)):
        if t.revoked:
            state = "revoked"
        elif not t.active(now_ms):
            state = "expired"
        else:
            state = "active"
        rows.append((t.id, t.role, t.name, state, _instant(t.created_at), _instant(t.expires_at)))
    if not rows:
        return "no tokens created"
    return _table(("id", "role", "name", "state", "created", "expires"), rows)


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
    from contract.kafka_login import check_login
    from contract.topics import ensure_topics

    _probe(settings.kafka)
    if settings.kafka.security.sasl or settings.kafka.security.tls:
        # A refused login would otherwise surface as kafka-python's 30 s timeout.
        check_login(settings.kafka, timeout_s=10.0)
    _kafka_call(settings.kafka, lambda: ensure_topics(settings.kafka))


def _put(settings: Settings, item: Stream | Partner | Token) -> None:
    from contract.registry_store import RegistryStore

    store = RegistryStore(settings.kafka)
    _kafka_call(settings.kafka, lambda: store.put(item))


def _load(settings: Settings) -> Registry:
    from contract.registry_store import RegistryStore

    store = RegistryStore(settings.kafka)
    return _kafka_call(settings.kafka, store.load)


def load_registry(settings: Settings) -> Registry:
    """Make sure the topics exist and read the whole registry."""
    _prepare(settings)
    return _load(settings)


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
    token = build_token(
        args.role,
        secret=secret,
        token_id=secrets.token_hex(4),
        name=args.name,
        expires=args.expires or "",
    )
    _prepare(settings)
    _put(settings, token)
    label = f" ({token.name})" if token.name else ""
    until = f", expires {_instant(token.expires_at)}" if token.expires_at else ""
    return [
        f"created {token.role} token {token.id}{label}{until}",
        "token (shown only once):",
        secret,
    ]


def _token_action(args: argparse.Namespace, settings: Settings) -> list[str]:
    action: str = args.token_command
    if action == "create":
        return _token_create(args, settings)
    _prepare(settings)
    registry = _load(settings)
    if action == "revoke":
        token = revoked_token(registry, args.id)
        _put(settings, token)
        return [f"revoked token {token.id}; its sign-ins end at their next request"]
    return [format_tokens(registry.tokens.values(), int(time.time() * 1000))]


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
        return _token_action(args, settings)
    raise ValueError(f"not a registration command: {command!r}")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run a ``stream``, ``partner`` or ``token`` subcommand; print its result; return 0."""
    # kafka-python logs every connection at INFO; a one-shot command only needs problems.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    for line in _lines(args, settings):
        print(line)
    return 0
