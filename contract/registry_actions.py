"""Admin actions on the registry, shared by the CLI and the dashboard's admin page.

Each action is pure: it takes the current registry snapshot and returns the record to write
(and a new key or token, which only its caller ever sees). Writing it is the caller's job,
so the same rules hold whether the record then goes to Kafka or to a test's list.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace

from contract.durations import parse_duration
from contract.programme import check_fits
from contract.registry import (
    DEFAULT_KEY_GRACE_S,
    DEFAULT_RATE,
    DEFAULT_SESSION_TIMEOUT_S,
    DEFAULT_TZ,
    MAX_SEGMENTS,
    ROLES,
    AlreadyRegistered,
    NotRegistered,
    Partner,
    PartnerRevoked,
    Registry,
    RegistryError,
    Segment,
    Stream,
    Token,
    hash_secret,
    new_secret,
    record_key,
)

__all__ = [
    "BadDuration",
    "KEY_PREFIX",
    "TOKEN_PREFIX",
    "add_partner",
    "add_segment",
    "add_stream",
    "create_token",
    "remove_segment",
    "revoke_partner",
    "revoke_token",
    "rotate_key",
    "stream_of",
    "update_partner",
    "update_stream",
]

KEY_PREFIX = "ltk"
"""First characters of every partner API key."""
TOKEN_PREFIX = "ltt"  # noqa: S105  # a prefix, not a secret
"""First characters of every dashboard token."""
MAX_GRACE_S = 7 * 86400
"""Longest time an old key may keep working after a rotation."""


class BadDuration(RegistryError):
    """A token's ``expires`` that is not a duration (callers name their own field)."""


def _now(now_ms: int | None) -> int:
    return int(time.time() * 1000) if now_ms is None else now_ms


def _text(field: str, value: str, *, required: bool) -> str:
    value = value.strip()
    if required and not value:
        raise RegistryError(f"a {field} must not be empty")
    return value


def _partner(registry: Registry, partner_id: str) -> Partner:
    partner = registry.partners.get(partner_id)
    if partner is None:
        raise NotRegistered("partner", partner_id, registry.partners)
    return partner


def stream_of(registry: Registry, stream_id: str) -> Stream:
    """The registered stream ``stream_id``; ``NotRegistered`` if there is none."""
    stream = registry.streams.get(stream_id)
    if stream is None:
        raise NotRegistered("stream", stream_id, registry.streams)
    return stream


def add_stream(
    registry: Registry,
    stream_id: str,
    *,
    title: str,
    tz: str = DEFAULT_TZ,
    replace_existing: bool = False,
) -> Stream:
    """A new stream record. Registering an id again with the same title and time zone is
    allowed (nothing changes); with other settings it is refused unless ``replace_existing``
    (``update_stream`` changes one setting)."""
    stream = Stream(id=stream_id, title=_text("stream title", title, required=True), tz=tz)
    existing = registry.streams.get(stream.id)
    if existing is not None and existing != stream and not replace_existing:
        raise AlreadyRegistered(
            f"stream {stream.id!r} is already registered ({existing.title}, {existing.tz}); "
            "update it, or replace it"
        )
    return stream


def update_stream(
    registry: Registry, stream_id: str, *, title: str | None = None, tz: str | None = None
) -> Stream:
    """The stream with a new title and/or time zone."""
    stream = stream_of(registry, stream_id)
    if title is None and tz is None:
        raise RegistryError("nothing to update: give a new title or time zone")
    return replace(
        stream,
        title=stream.title if title is None else _text("stream title", title, required=True),
        tz=stream.tz if tz is None else tz,
    )


def add_partner(
    registry: Registry,
    partner_id: str,
    *,
    name: str,
    name_en: str = "",
    mode: str = "sessions",
    session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S,
    rate: int = DEFAULT_RATE,
    streams: tuple[str, ...] = (),
    replace_existing: bool = False,
    key: str | None = None,
) -> tuple[Partner, str]:
    """A new partner record and its API key (only the key's hash is in the record).

    A partner whose key is live is not replaced unless ``replace_existing``: replacing it
    ends its key at once. A revoked partner may be added again. ``streams`` limits it to
    those registered streams (empty: any).
    """
    _registered(registry, streams)
    secret = new_secret(KEY_PREFIX) if key is None else key
    partner = Partner(
        id=partner_id,
        name=_text("partner name", name, required=True),
        name_en=_text("English name", name_en, required=False),
        mode=mode,  # type: ignore[arg-type]  # checked by Partner
        session_timeout_s=session_timeout_s,
        rate=rate,
        key_hash=hash_secret(secret),
        streams=tuple(streams),
    )
    existing = registry.partners.get(partner.id)
    if existing is not None and not existing.revoked and not replace_existing:
        raise AlreadyRegistered(
            f"partner {partner.id!r} is already registered and its key is live; nothing "
            "was changed (rotate its key, update its settings, or replace it)"
        )
    return partner, secret


def update_partner(
    registry: Registry,
    partner_id: str,
    *,
    name: str | None = None,
    name_en: str | None = None,
    session_timeout_s: int | None = None,
    rate: int | None = None,
    streams: tuple[str, ...] | None = None,
    now_ms: int | None = None,
) -> Partner:
    """The partner with new settings; its key (and any key still in its grace period) is
    kept, a previous key whose grace period is over is dropped from the record.
    ``streams`` replaces the streams it may post to (``()``: any)."""
    partner = _partner(registry, partner_id)
    changes = (name, name_en, session_timeout_s, rate, streams)
    if all(change is None for change in changes):
        raise RegistryError(
            "nothing to update: give a name, English name, rate, timeout or streams"
        )
    if streams is not None:
        _registered(registry, streams)
    return replace(
        _without_spent_key(partner, _now(now_ms)),
        name=partner.name if name is None else _text("partner name", name, required=True),
        name_en=partner.name_en
        if name_en is None
        else _text("English name", name_en, required=False),
        session_timeout_s=partner.session_timeout_s
        if session_timeout_s is None
        else session_timeout_s,
        rate=partner.rate if rate is None else rate,
        streams=partner.streams if streams is None else tuple(streams),
    )


def _registered(registry: Registry, streams: tuple[str, ...]) -> None:
    """Refuse a stream limit naming a stream that is not registered (a typo would lock the
    partner out of the stream it meant)."""
    for stream_id in streams:
        stream_of(registry, stream_id)


def rotate_key(
    registry: Registry,
    partner_id: str,
    *,
    grace_s: int = DEFAULT_KEY_GRACE_S,
    now_ms: int | None = None,
    key: str | None = None,
) -> tuple[Partner, str]:
    """The partner with a new API key; its current key keeps working for ``grace_s``
    seconds (0: it stops at once) so the partner can switch without losing events. A key
    still in the grace period of an earlier rotation stops now."""
    partner = _partner(registry, partner_id)
    if partner.revoked:
        raise PartnerRevoked(f"partner {partner_id!r} is revoked; add it again for a new key")
    if not 0 <= grace_s <= MAX_GRACE_S:
        raise RegistryError(f"the grace period must be 0 to {MAX_GRACE_S} seconds")
    secret = new_secret(KEY_PREFIX) if key is None else key
    rotated = replace(
        partner,
        key_hash=hash_secret(secret),
        previous_key_hash=partner.key_hash if grace_s else "",
        previous_key_expires_at=_now(now_ms) + grace_s * 1000 if grace_s else 0,
    )
    return rotated, secret


def revoke_partner(registry: Registry, partner_id: str) -> Partner:
    """The partner marked revoked: every key of it, old or new, is refused from then on."""
    return replace(
        _partner(registry, partner_id),
        revoked=True,
        previous_key_hash="",
        previous_key_expires_at=0,
    )


def _without_spent_key(partner: Partner, now_ms: int) -> Partner:
    """``partner`` without a previous key whose grace period is over: records then carry
    the rotation fields only while they matter (services that predate them cannot read
    a record that has them)."""
    if partner.previous_key_hash and partner.previous_key_expires_at <= now_ms:
        return replace(partner, previous_key_hash="", previous_key_expires_at=0)
    return partner


def create_token(
    role: str,
    *,
    name: str = "",
    expires: str = "",
    streams: tuple[str, ...] = (),
    partner: str = "",
    registry: Registry | None = None,
    now_ms: int | None = None,
    token_id: str | None = None,
    secret: str | None = None,
) -> tuple[Token, str]:
    """A new dashboard token record and its secret.

    ``expires`` is a duration (``90s``, ``30m``, ``12h``, ``7d``) from ``now_ms``; empty
    for a token that lasts until it is revoked. A ``public`` token reads one stream's live
    counter only: ``streams`` names it. A ``viewer`` or ``partner`` token given
    ``streams`` reads only those. A ``partner`` token reads only ``partner``'s own numbers.
    The streams and the partner must be registered in ``registry`` (when given), the
    partner not revoked and allowed in each of the streams. A stream named twice counts
    once.
    """
    streams = tuple(dict.fromkeys(streams))
    if role not in ROLES:
        raise RegistryError(f"token role must be one of {', '.join(ROLES)}")
    if role == "public" and len(streams) != 1:
        raise RegistryError("a public token needs exactly one --stream")
    if role == "admin" and streams:
        raise RegistryError("an admin token cannot be limited to streams")
    if role == "partner" and not partner:
        raise RegistryError("a partner token needs --partner ID")
    if role != "partner" and partner:
        raise RegistryError("only a partner token names a partner (--role partner)")
    if registry is not None:
        for stream_id in streams:
            stream_of(registry, stream_id)
        if partner:
            found = registry.partners.get(partner)
            if found is None:
                raise NotRegistered("partner", partner, registry.partners)
            if found.revoked:
                raise PartnerRevoked(f"partner {partner!r} is revoked; add it again first")
            refused = [s for s in streams if not found.allows(s)]
            if refused:
                raise RegistryError(
                    f"partner {partner!r} may not post to {', '.join(refused)} "
                    f"(its streams: {', '.join(found.streams)})"
                )
    now = _now(now_ms)
    expires_at = 0
    if expires.strip():
        try:
            expires_at = now + parse_duration(expires) * 1000
        except ValueError as exc:
            raise BadDuration(str(exc)) from None
    value = new_secret(TOKEN_PREFIX) if secret is None else secret
    token = Token(
        id=secrets.token_hex(4) if token_id is None else token_id,
        role=next(r for r in ROLES if r == role),
        name=name.strip(),
        expires_at=expires_at,
        created_at=now,
        streams=tuple(streams),
        partner=partner,
    )
    digest = hash_secret(value)
    where = token.hash_field
    hashed = replace(
        token,
        token_hash=digest if where == "token_hash" else "",
        public_hash=digest if where == "public_hash" else "",
        scoped_hash=digest if where == "scoped_hash" else "",
    )
    return hashed, value


def revoke_token(registry: Registry, token_id: str) -> Token:
    """The token marked revoked; sessions signed in with it end at their next request."""
    token = registry.tokens.get(token_id)
    if token is None:
        raise NotRegistered("token", token_id, registry.tokens)
    return replace(token, revoked=True)


def add_segment(
    registry: Registry,
    stream_id: str,
    *,
    start: int,
    title: str,
    title_en: str = "",
    end: int = 0,
    segment_id: str | None = None,
    replace_existing: bool = False,
) -> Segment:
    """A new programme segment of a registered stream (``start``/``end`` in epoch seconds;
    ``end`` 0: until the next segment starts).

    Without ``segment_id`` the segment gets a new short id. A segment that starts with, or
    overlaps, another one is refused, and so is an id already used unless
    ``replace_existing`` (the segment is then changed in place).
    """
    stream_of(registry, stream_id)
    programme = registry.programme(stream_id)
    taken = {s.id for s in programme}
    if segment_id is None:
        segment_id = secrets.token_hex(3)
        while segment_id in taken:
            segment_id = secrets.token_hex(3)
    elif segment_id in taken and not replace_existing:
        raise AlreadyRegistered(
            f"stream {stream_id!r} already has a segment {segment_id!r}; remove it, or replace it"
        )
    if segment_id not in taken and len(programme) >= MAX_SEGMENTS:
        raise RegistryError(f"a stream may have at most {MAX_SEGMENTS} segments")
    segment = Segment(
        id=segment_id,
        stream=stream_id,
        start=start,
        title=title.strip(),
        title_en=title_en.strip(),
        end=end,
    )
    check_fits(programme, segment)
    return segment


def remove_segment(registry: Registry, stream_id: str, segment_id: str) -> str:
    """The registry key to delete (write a tombstone for) to remove a segment."""
    stream_of(registry, stream_id)
    segment = registry.segments.get((stream_id, segment_id))
    if segment is None:
        raise NotRegistered("segment", segment_id, [s.id for s in registry.programme(stream_id)])
    return record_key(segment)
