"""Registered streams, partners and dashboard tokens, and the snapshot services look them up in."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contract.events import PartnerMode

__all__ = [
    "DEFAULT_KEY_GRACE_S",
    "DEFAULT_RATE",
    "DEFAULT_SESSION_TIMEOUT_S",
    "DEFAULT_TZ",
    "MAX_SEGMENTS",
    "MAX_TITLE",
    "AlreadyRegistered",
    "Clash",
    "NotRegistered",
    "Partner",
    "PartnerRevoked",
    "Registry",
    "ROLES",
    "RegistryError",
    "Role",
    "Segment",
    "Stream",
    "Token",
    "Item",
    "hash_secret",
    "new_secret",
    "record_key",
    "validate_id",
]

Role = Literal["viewer", "admin", "public", "partner"]
ROLES: tuple[Role, ...] = ("viewer", "admin", "public", "partner")
"""Token roles: ``viewer`` reads the dashboard and API (of every stream, or of the streams it
is limited to), ``admin`` also manages the registry, ``public`` reads only one stream's
public live counter (``/api/v1/public/live``, ``/embed``), ``partner`` reads one partner's
own numbers, feed status and rejections."""
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

DEFAULT_TZ = "Asia/Shanghai"
"""Time zone of a stream registered without one."""
DEFAULT_SESSION_TIMEOUT_S = 30
"""Seconds without a heartbeat after which a partner's viewer counts as gone."""
DEFAULT_RATE = 5000
"""Events per second a partner may post unless registered with another rate."""
DEFAULT_KEY_GRACE_S = 600
"""Seconds a partner's previous API key keeps working after its key is rotated."""
MAX_TITLE = 100
"""Most characters of a segment's title (in either language)."""
MAX_SEGMENTS = 500
"""Most programme segments one stream may have."""
_FIRST_SEGMENT_S = 946_684_800  # 2000-01-01T00:00:00Z
_LAST_SEGMENT_S = 4_102_444_800  # 2100-01-01T00:00:00Z


class RegistryError(ValueError):
    """A registration that breaks a rule (bad id, unknown time zone, ...)."""


class AlreadyRegistered(RegistryError):
    """An add for an id that is already registered (and would be overwritten)."""


class Clash(RegistryError):
    """A record that does not fit with others (a segment overlapping another one)."""


class PartnerRevoked(RegistryError):
    """An action that needs a live partner on a revoked one."""


class NotRegistered(RegistryError):
    """No stream, partner or token is registered under the id given."""

    def __init__(self, kind: str, item_id: str, known: Iterable[str]) -> None:
        names = ", ".join(sorted(known)) or "none registered"
        super().__init__(f"no {kind} with id {item_id!r} (known: {names})")
        self.kind = kind
        self.item_id = item_id


def validate_id(kind: str, value: str) -> str:
    """Check an id: 1-64 of lowercase letters, digits, ``-`` and ``_``, starting alphanumeric."""
    if not _ID.match(value):
        raise RegistryError(
            f"{kind} id {value!r} must be 1-64 characters of a-z, 0-9, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def new_secret(prefix: str) -> str:
    """A new random API key or token; only its hash is ever stored."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    """The stored form of a key or token (SHA-256; keys are random, so no salt is needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


_PLAIN_TYPES: dict[str, type] = {"str": str, "int": int, "bool": bool}
_TYPE_NAMES = {str: "a string", int: "a whole number", bool: "true or false"}


def _check_types(item: object) -> None:
    """Each plain field (``str``, ``int``, ``bool``) of a registry item has its declared
    type, and each hash is ASCII: a record read back from the topic is JSON anyone with
    write access could have written, and a wrong type would otherwise fail later, on every
    sign-in or event that compares a hash or a time with it."""
    owner = type(item).__name__.lower()
    for f in fields(item):  # type: ignore[arg-type]
        expected = _PLAIN_TYPES.get(str(f.type))
        if expected is None:
            continue
        value = getattr(item, f.name)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise RegistryError(
                f"a {owner}'s {f.name} must be {_TYPE_NAMES[expected]}, not {type(value).__name__}"
            )
        if isinstance(value, str) and f.name.endswith("_hash") and not value.isascii():
            raise RegistryError(f"a {owner}'s {f.name} must be a hex digest")


def _stream_ids(owner: str, value: object) -> tuple[str, ...]:
    """A record's ``streams`` as a tuple of valid ids (JSON gives a list)."""
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise RegistryError(f"a {owner}'s streams must be a list of stream ids")
    for stream in value:
        if not isinstance(stream, str):
            raise RegistryError(f"a {owner}'s streams must be a list of stream ids")
        validate_id("stream", stream)
    return tuple(value)


@dataclass(frozen=True)
class Stream:
    """A live stream that partners report on."""

    id: str
    title: str
    tz: str = DEFAULT_TZ

    def __post_init__(self) -> None:
        _check_types(self)
        validate_id("stream", self.id)
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise RegistryError(f"unknown time zone {self.tz!r}") from None


@dataclass(frozen=True)
class Partner:
    """A partner platform and how it reports."""

    id: str
    name: str
    name_en: str = ""
    mode: PartnerMode = "sessions"
    session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S
    rate: int = DEFAULT_RATE
    key_hash: str = ""
    revoked: bool = False
    previous_key_hash: str = ""
    """Hash of the key a rotation replaced; accepted until ``previous_key_expires_at``."""
    previous_key_expires_at: int = 0
    """Epoch milliseconds until which the previous key still works (0: it does not)."""
    streams: tuple[str, ...] = ()
    """The streams it may post to (empty: any registered stream). A limited partner is also
    listed in those streams' tables before its first event."""

    def __post_init__(self) -> None:
        _check_types(self)
        validate_id("partner", self.id)
        object.__setattr__(self, "streams", _stream_ids("partner", self.streams))
        if self.mode not in ("sessions", "reports"):
            raise RegistryError("mode must be sessions or reports")
        if not 1 <= self.session_timeout_s <= 3600:
            raise RegistryError("session timeout must be 1 to 3600 seconds")
        if self.rate < 1:
            raise RegistryError("rate must be at least 1 event per second")

    def accepts(self, digest: str, now_ms: int | None = None) -> bool:
        """Whether a key with this hash may post for the partner at ``now_ms`` (default: now):
        its current key, or the previous one during the grace period after a rotation."""
        if self.revoked:
            return False
        if hmac.compare_digest(self.key_hash, digest):
            return True
        if not self.previous_key_hash or not hmac.compare_digest(self.previous_key_hash, digest):
            return False
        now = int(time.time() * 1000) if now_ms is None else now_ms
        return now < self.previous_key_expires_at

    def display_name(self, lang: str) -> str:
        """The partner's name in a language (``zh`` or ``en``)."""
        return self.name_en if lang == "en" and self.name_en else self.name

    def allows(self, stream_id: str) -> bool:
        """Whether the partner may post events for ``stream_id``."""
        return not self.streams or stream_id in self.streams


@dataclass(frozen=True)
class Token:
    """A dashboard/API token."""

    id: str
    role: Role
    name: str = ""
    token_hash: str = ""
    revoked: bool = False
    expires_at: int = 0
    """Epoch milliseconds after which the token is refused like a revoked one (0: never)."""
    created_at: int = 0
    """Epoch milliseconds of its creation (0 for tokens made before this was recorded)."""
    streams: tuple[str, ...] = ()
    """The streams it may read (empty: every stream); a public token names exactly one."""
    public_hash: str = ""
    """A public token's hash, kept here instead of ``token_hash``: a service of an earlier
    release, which knows no public role, then never takes it for a viewer token."""
    partner: str = ""
    """The partner whose numbers a ``partner`` token reads (empty for the other roles)."""
    scoped_hash: str = ""
    """The hash of a limited token (a viewer limited to streams, a partner token), kept
    here instead of ``token_hash`` for the same reason as ``public_hash``: a service of an
    earlier release, which would read it as an unlimited viewer, never accepts it."""

    def __post_init__(self) -> None:
        _check_types(self)
        if self.role not in ROLES:
            raise RegistryError(f"token role must be one of {', '.join(ROLES)}")
        object.__setattr__(self, "streams", _stream_ids("token", self.streams))
        if self.role == "public" and len(self.streams) != 1:
            raise RegistryError("a public token is for exactly one stream")
        if self.role == "admin" and self.streams:
            raise RegistryError("an admin token cannot be limited to streams")
        if (self.role == "partner") != bool(self.partner):
            raise RegistryError("a partner token names its partner, and only it does")
        if self.partner:
            validate_id("partner", self.partner)
        for name in ("token_hash", "public_hash", "scoped_hash"):
            if name != self.hash_field and getattr(self, name):
                raise RegistryError(f"this token's hash belongs in {self.hash_field}")

    @property
    def hash_field(self) -> str:
        """Where its role and limits keep the hash of its secret."""
        if self.role == "public":
            return "public_hash"
        if self.role == "partner" or self.streams:
            return "scoped_hash"
        return "token_hash"

    @property
    def secret_hash(self) -> str:
        """The hash of its secret, wherever its role keeps it."""
        digest: str = getattr(self, self.hash_field)
        return digest

    def active(self, now_ms: int) -> bool:
        """Whether the token may be used at ``now_ms``: not revoked and not expired."""
        return not self.revoked and (self.expires_at == 0 or now_ms < self.expires_at)

    def role_text(self) -> str:
        """Its role with what it is limited to, e.g. ``partner kandu (carnival-2024)``."""
        role = f"{self.role} {self.partner}" if self.partner else self.role
        return f"{role} ({', '.join(self.streams)})" if self.streams else role


@dataclass(frozen=True)
class Segment:
    """A part of a stream's programme (节目 / 环节): what was on stage from ``start``.

    A segment without an ``end`` lasts until the next one starts (or, the last one, until
    the stream ends); ``contract.programme`` works out those ends.
    """

    id: str
    stream: str
    start: int
    """Epoch second it began."""
    title: str
    title_en: str = ""
    end: int = 0
    """Epoch second it ended (exclusive), or 0: when the next segment starts."""

    def __post_init__(self) -> None:
        for name, second in (("start", self.start), ("end", self.end)):
            if isinstance(second, bool) or not isinstance(second, int):
                raise RegistryError(f"a segment's {name} must be a whole epoch second")
        _check_types(self)
        validate_id("segment", self.id)
        validate_id("stream", self.stream)
        if not _FIRST_SEGMENT_S <= self.start < _LAST_SEGMENT_S:
            raise RegistryError("a segment must start between the years 2000 and 2099")
        if self.end and not self.start < self.end <= _LAST_SEGMENT_S:
            raise RegistryError("a segment must end after it starts")
        for name, text, required in (
            ("title", self.title, True),
            ("English title", self.title_en, False),
        ):
            if not isinstance(text, str):
                raise RegistryError(f"a segment's {name} must be text")
            if required and not text.strip():
                raise RegistryError(f"a segment's {name} must not be empty")
            if len(text) > MAX_TITLE or not text.isprintable():
                raise RegistryError(
                    f"a segment's {name} must be at most {MAX_TITLE} printable characters"
                )

    def display_title(self, lang: str) -> str:
        """The title in a language (``zh`` or ``en``)."""
        return self.title_en if lang == "en" and self.title_en else self.title


Item = Stream | Partner | Token | Segment
"""Anything the registry topic holds."""


def record_key(item: Item) -> str:
    """The compacted-topic key of a registry record (a segment's names its stream too)."""
    if isinstance(item, Segment):
        return f"segment/{item.stream}/{item.id}"
    kind = {Stream: "stream", Partner: "partner", Token: "token"}[type(item)]
    return f"{kind}/{item.id}"


_OMITTED_WHEN_EMPTY = frozenset(
    {
        "previous_key_hash",
        "previous_key_expires_at",
        "title_en",
        "end",
        "streams",
        "public_hash",
        "partner",
        "scoped_hash",
    }
)
"""Fields added after the first release: left out while empty, so that a service of an
earlier release still reads every partner that has never had its key rotated."""


def to_record(item: Item) -> dict[str, Any]:
    """A registry item as the JSON mapping stored in Kafka."""
    kind = record_key(item).split("/", 1)[0]
    doc = {k: v for k, v in asdict(item).items() if v or k not in _OMITTED_WHEN_EMPTY}
    return {"kind": kind, **doc}


def from_record(doc: Mapping[str, Any]) -> Item:
    """Rebuild a registry item from its stored mapping.

    Missing fields take their defaults (records written before a field existed) and unknown
    ones are ignored (records written by a later release). Anything but a JSON object is
    refused with ``RegistryError``.
    """
    if not isinstance(doc, Mapping):
        raise RegistryError(f"a registry record must be a JSON object, got {type(doc).__name__}")
    kind = doc.get("kind")
    types: dict[Any, type[Item]] = {
        "stream": Stream,
        "partner": Partner,
        "token": Token,
        "segment": Segment,
    }
    cls = types.get(kind)
    if cls is None:
        raise RegistryError(f"unknown registry record kind {kind!r}")
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in doc.items() if k in names})


@dataclass(frozen=True)
class Registry:
    """An immutable snapshot of everything registered."""

    streams: Mapping[str, Stream] = field(default_factory=dict)
    partners: Mapping[str, Partner] = field(default_factory=dict)
    tokens: Mapping[str, Token] = field(default_factory=dict)
    segments: Mapping[tuple[str, str], Segment] = field(default_factory=dict)
    """Programme segments by (stream id, segment id)."""

    @classmethod
    def of(cls, items: Iterable[Item]) -> Registry:
        """Build a snapshot; later items replace earlier ones with the same key."""
        streams: dict[str, Stream] = {}
        partners: dict[str, Partner] = {}
        tokens: dict[str, Token] = {}
        segments: dict[tuple[str, str], Segment] = {}
        for item in items:
            if isinstance(item, Stream):
                streams[item.id] = item
            elif isinstance(item, Partner):
                partners[item.id] = item
            elif isinstance(item, Segment):
                segments[(item.stream, item.id)] = item
            else:
                tokens[item.id] = item
        return cls(streams=streams, partners=partners, tokens=tokens, segments=segments)

    def programme(self, stream_id: str) -> tuple[Segment, ...]:
        """A stream's segments in the order they start (ties by id)."""
        found = [s for (stream, _), s in self.segments.items() if stream == stream_id]
        return tuple(sorted(found, key=lambda s: (s.start, s.id)))

    def partner_for_key(self, key: str, now_ms: int | None = None) -> Partner | None:
        """The active partner whose API key this is at ``now_ms`` (default: now), if any:
        its current key, or its previous one during the grace period after a rotation."""
        digest = hash_secret(key)
        for partner in self.partners.values():
            if partner.accepts(digest, now_ms):
                return partner
        return None

    def token_for(self, token: str, now_ms: int) -> Token | None:
        """The active (neither revoked nor expired) token record of a secret, if any."""
        digest = hash_secret(token)
        found: Token | None = None
        for item in self.tokens.values():
            if hmac.compare_digest(item.secret_hash, digest) and item.active(now_ms):
                found = item
        return found

    def active_token(self, token_id: str, now_ms: int) -> Token | None:
        """The token record with this id while it is active (a session's token)."""
        item = self.tokens.get(token_id)
        return item if item is not None and item.active(now_ms) else None
