"""Managing partners and tokens from the dashboard: the actions and their admin-only JSON routes.

A new partner key or token is returned once, by the call that made it; only its hash is
written to the registry topic, and no listing ever shows it again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import flask
import orjson

from contract import registry_actions
from contract.instants import parse_second, rfc3339
from contract.programme import slots
from contract.registry import (
    DEFAULT_KEY_GRACE_S,
    DEFAULT_RATE,
    DEFAULT_SESSION_TIMEOUT_S,
    ROLES,
    AlreadyRegistered,
    Clash,
    Item,
    NotRegistered,
    Partner,
    PartnerRevoked,
    Registry,
    RegistryError,
    Segment,
    Stream,
    Token,
    record_key,
)
from dashboard.exceptions import BadParameter, Conflict, RegistryUnavailable, UnknownItem

__all__ = [
    "EXTENSION",
    "AdminActions",
    "RegistryWriter",
    "current_admin",
    "partner_json",
    "register_admin_api",
    "segment_json",
    "token_json",
]

EXTENSION = "livetally_admin"
"""Key under which the app's ``AdminActions`` are kept in ``flask.Flask.extensions``."""
MAX_NAME = 100
MAX_TOKEN_STREAMS = 50
"""Most streams one token may be limited to."""
_INTEGER = re.compile(r"-?[0-9]{1,12}")
_MAX_INT_FIELD = 10**9
"""Largest session timeout or rate a form or request may give (the registry narrows it)."""


class RegistryWriter(Protocol):
    """Writes one registry record (``contract.registry_store.RegistryStore`` in production)."""

    def put(self, item: Stream | Partner | Token | Segment) -> None:
        """Write the record and wait until Kafka has it."""
        ...

    def delete(self, key: str) -> None:
        """Write a tombstone for a record key and wait until Kafka has it."""
        ...


def _name(fields: Mapping[str, Any], key: str, *, required: bool) -> str:
    value = fields.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadParameter(key, "must be a string")
    value = value.strip()
    if required and not value:
        raise BadParameter(key, "must not be empty")
    if len(value) > MAX_NAME or not value.isprintable():
        raise BadParameter(key, f"must be at most {MAX_NAME} printable characters")
    return value


def _int(fields: Mapping[str, Any], key: str, default: int) -> int:
    value = fields.get(key, default)
    if value is None or value == "":
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise BadParameter(key, "must be a whole number written with digits")
    if not 0 < number <= _MAX_INT_FIELD:
        raise BadParameter(key, f"must be between 1 and {_MAX_INT_FIELD:,}")
    return number


def _optional_int(fields: Mapping[str, Any], key: str) -> int | None:
    if fields.get(key) in (None, ""):
        return None
    return _int(fields, key, 0)


def partner_json(partner: Partner) -> dict[str, Any]:
    """A partner for display: never its key or key hash."""
    return {
        "id": partner.id,
        "name": partner.name,
        "name_en": partner.name_en,
        "mode": partner.mode,
        "session_timeout_s": partner.session_timeout_s,
        "rate": partner.rate,
        "revoked": partner.revoked,
        "previous_key_expires_at": partner.previous_key_expires_at or None,
        "streams": list(partner.streams),
    }


def segment_json(segment: Segment, end: int | None, tz: str) -> dict[str, Any]:
    """A programme segment with its times in the stream's zone; ``end`` is when it ends
    (its own end, else the next segment's start; None while it is the last one)."""
    return {
        "id": segment.id,
        "title": segment.title,
        "title_en": segment.title_en,
        "start": rfc3339(segment.start, tz),
        "end": None if end is None else rfc3339(end, tz),
        "end_given": segment.end != 0,
    }


def token_json(token: Token) -> dict[str, Any]:
    """A token for display: never the token or its hash."""
    return {
        "id": token.id,
        "role": token.role,
        "name": token.name,
        "revoked": token.revoked,
        "expires_at": token.expires_at or None,
        "streams": list(token.streams),
        "partner": token.partner or None,
        "active": token.active(int(time.time() * 1000)),
    }


class AdminActions:
    """Add and revoke partners and tokens, manage programme segments, writing through a
    ``RegistryWriter``.

    The registry snapshot lags a write by a moment; records written (or deleted) here are
    remembered until the snapshot shows them, so an add followed at once by a revoke or a
    removal finds the item.
    """

    def __init__(self, writer: RegistryWriter, registry: Callable[[], Registry]) -> None:
        self._writer = writer
        self._registry = registry
        self._pending: dict[str, Item | None] = {}
        """Records written (None: deleted), by record key, until the snapshot shows them."""

    def _write(self, item: Partner | Token | Segment) -> None:
        with _kafka_refusals():
            self._writer.put(item)
        self._pending[record_key(item)] = item

    def _delete(self, key: str) -> None:
        with _kafka_refusals():
            self._writer.delete(key)
        self._pending[key] = None

    def _snapshot(self) -> Registry:
        """The registry with the writes it does not show yet."""
        registry = self._registry()
        items: dict[str, Item] = {
            record_key(item): item
            for kind in (registry.streams, registry.partners, registry.tokens, registry.segments)
            for item in kind.values()
        }
        for key, written in list(self._pending.items()):
            if items.get(key) == written:
                self._pending.pop(key, None)  # the snapshot has caught up
            elif written is None:
                items.pop(key, None)
            else:
                items[key] = written
        return Registry.of(items.values())

    def streams(self) -> list[Stream]:
        """Every registered stream, by id."""
        return sorted(self._registry().streams.values(), key=lambda s: s.id)

    def programme(self, stream_id: str) -> tuple[Stream, tuple[Segment, ...]]:
        """A registered stream and its segments in order (404 for an unknown stream)."""
        snapshot = self._snapshot()
        with _refusals("stream", stream_id):
            stream = registry_actions.stream_of(snapshot, stream_id)
        return stream, snapshot.programme(stream_id)

    def add_segment(self, stream_id: str, fields: Mapping[str, Any]) -> tuple[Stream, Segment]:
        """Add a programme segment (``start``, ``title``; optional ``title_en``, ``end``,
        ``id``, ``replace``); times as RFC 3339 or epoch ms, in the stream's zone when
        they have no offset."""
        stream, _ = self.programme(stream_id)
        start = _instant(fields, "start", stream.tz, required=True)
        end = _instant(fields, "end", stream.tz, required=False)
        raw_id = fields.get("id")
        if raw_id is not None and not isinstance(raw_id, str):
            raise BadParameter("id", "must be a string")
        with _refusals("segment", raw_id or ""):
            segment = registry_actions.add_segment(
                self._snapshot(),
                stream.id,
                start=start,
                end=end,
                title=_name(fields, "title", required=True),
                title_en=_name(fields, "title_en", required=False),
                segment_id=(raw_id or "").strip() or None,
                replace_existing=_flag(fields, "replace"),
            )
        self._write(segment)
        return stream, segment

    def remove_segment(self, stream_id: str, segment_id: str) -> None:
        """Remove a programme segment (404 for an unknown stream or segment)."""
        self.programme(stream_id)
        with _refusals("segment", segment_id):
            key = registry_actions.remove_segment(self._snapshot(), stream_id, segment_id)
        self._delete(key)

    def partners(self) -> list[Partner]:
        """Every partner, by id."""
        return sorted(self._snapshot().partners.values(), key=lambda p: p.id)

    def tokens(self) -> list[Token]:
        """Every token, by id."""
        return sorted(self._snapshot().tokens.values(), key=lambda t: t.id)

    def add_partner(self, fields: Mapping[str, Any]) -> tuple[Partner, str]:
        """Register a partner; return it and its new API key (the only time it is shown).

        A partner whose key is live is refused (409) unless ``replace`` is true.
        """
        raw_id = fields.get("id")
        if not isinstance(raw_id, str):
            raise BadParameter("id", "must be a string")
        name = _name(fields, "name", required=True)
        name_en = _name(fields, "name_en", required=False)
        timeout = _int(fields, "session_timeout_s", DEFAULT_SESSION_TIMEOUT_S)
        rate = _int(fields, "rate", DEFAULT_RATE)
        streams = _streams(fields) or ()
        replace_existing = _flag(fields, "replace")
        with _refusals("partner", raw_id.strip()):
            partner, key = registry_actions.add_partner(
                self._snapshot(),
                raw_id.strip(),
                name=name,
                name_en=name_en,
                mode=str(fields.get("mode") or "sessions"),
                session_timeout_s=timeout,
                rate=rate,
                streams=streams,
                replace_existing=replace_existing,
            )
        self._write(partner)
        return partner, key

    def update_partner(self, partner_id: str, fields: Mapping[str, Any]) -> Partner:
        """Change a partner's names, session timeout or rate; its key is kept."""
        with _refusals("partner", partner_id):
            partner = registry_actions.update_partner(
                self._snapshot(),
                partner_id,
                name=_name(fields, "name", required=True) if "name" in fields else None,
                name_en=_name(fields, "name_en", required=False) if "name_en" in fields else None,
                session_timeout_s=_optional_int(fields, "session_timeout_s"),
                rate=_optional_int(fields, "rate"),
                streams=_streams(fields),
            )
        self._write(partner)
        return partner

    def rotate_key(self, partner_id: str, fields: Mapping[str, Any]) -> tuple[Partner, str]:
        """Give a partner a new key (shown once); the old one works for ``grace_s`` more
        seconds (default ten minutes, 0 ends it at once)."""
        grace = fields.get("grace_s")
        if (grace == 0 and not isinstance(grace, bool)) or grace == "0":
            grace_s = 0  # _int reads only positive numbers
        else:
            grace_s = _int(fields, "grace_s", DEFAULT_KEY_GRACE_S)
        with _refusals("partner", partner_id):
            partner, key = registry_actions.rotate_key(
                self._snapshot(), partner_id, grace_s=grace_s
            )
        self._write(partner)
        return partner, key

    def revoke_partner(self, partner_id: str) -> Partner:
        """Revoke a partner's key; its events are refused from then on."""
        with _refusals("partner", partner_id):
            revoked = registry_actions.revoke_partner(self._snapshot(), partner_id)
        self._write(revoked)
        return revoked

    def create_token(self, fields: Mapping[str, Any]) -> tuple[Token, str]:
        """Create a dashboard token; return it and its secret (the only time it is shown).

        A field it does not know is refused: a misspelt limit (``stream_ids``) would
        otherwise make an unlimited token."""
        unknown = sorted(set(fields) - _TOKEN_FIELDS)
        if unknown:
            raise BadParameter(
                unknown[0], f"is not a token field (known: {', '.join(sorted(_TOKEN_FIELDS))})"
            )
        role = fields.get("role")
        if role not in ROLES:
            raise BadParameter("role", f"must be one of {', '.join(ROLES)}")
        expires = fields.get("expires", "")
        if not isinstance(expires, str):
            raise BadParameter("expires", "must be a duration such as 90s, 30m, 12h or 7d")
        name = _name(fields, "name", required=False)
        streams = _token_streams(fields)
        if role == "public" and len(streams) != 1:
            raise BadParameter("stream", "is required for a public token (the stream it reads)")
        if role == "admin" and streams:
            raise BadParameter("streams", "an admin token cannot be limited to streams")
        partner = fields.get("partner", "")
        if partner is None:
            partner = ""
        if not isinstance(partner, str):
            raise BadParameter("partner", "must be a partner id")
        if role == "partner" and not partner:
            raise BadParameter("partner", "is required for a partner token (whose numbers)")
        if role != "partner" and partner:
            raise BadParameter("partner", "is only for a partner token")
        with _refusals("stream", ",".join(streams)):
            try:
                token, secret = registry_actions.create_token(
                    role,
                    name=name,
                    expires=expires,
                    streams=streams,
                    partner=partner,
                    registry=self._snapshot(),
                )
            except registry_actions.BadDuration as exc:
                raise BadParameter("expires", str(exc)) from None
        self._write(token)
        return token, secret

    def revoke_token(self, token_id: str) -> Token:
        """Revoke a token; requests bearing it are refused from then on."""
        with _refusals("token", token_id):
            revoked = registry_actions.revoke_token(self._snapshot(), token_id)
        self._write(revoked)
        return revoked


_TOKEN_FIELDS = frozenset({"role", "name", "expires", "stream", "streams", "partner"})


def _token_streams(fields: Mapping[str, Any]) -> tuple[str, ...]:
    """The streams a new token is limited to: ``stream`` (one id) or ``streams`` (a
    non-empty list); neither (absent or null) for a token that reads every stream.

    Any other value is refused rather than read as "no limit": an empty string or list
    would otherwise make an unlimited token out of a request meant to limit one."""
    one = fields.get("stream")
    many = fields.get("streams")
    if one is not None and many is not None:
        raise BadParameter("streams", "give either stream or streams, not both")
    if one is not None:
        if not isinstance(one, str) or not one.strip():
            raise BadParameter("stream", "must be a stream id")
        return (one.strip(),)
    if many is None:
        return ()
    if not isinstance(many, list) or not all(isinstance(s, str) and s.strip() for s in many):
        raise BadParameter("streams", "must be a list of stream ids")
    if not many:
        raise BadParameter("streams", "must name at least one stream (leave it out for all)")
    if len(many) > MAX_TOKEN_STREAMS:
        raise BadParameter("streams", f"at most {MAX_TOKEN_STREAMS} streams")
    return tuple(dict.fromkeys(s.strip() for s in many))


@contextmanager
def _kafka_refusals() -> Iterator[None]:
    """Kafka refusing a registry write, as a 503 saying what to do."""
    from kafka.errors import AuthorizationError, KafkaError

    try:
        yield
    except KafkaError as exc:
        # A user with no Write anywhere is refused its producer id first, which
        # kafka-python reports as a plain KafkaError naming the authorization error.
        if not isinstance(exc, AuthorizationError) and "AuthorizationFailed" not in str(exc):
            raise RegistryUnavailable(
                f"Kafka did not take the write ({type(exc).__name__}); nothing was "
                "changed, try again"
            ) from None
        raise RegistryUnavailable(
            "this dashboard's Kafka user may not write the registry topic; manage "
            "partners and tokens with the livetally CLI, or give the dashboard a user "
            "that may (docs/deploy.md, Kafka security)"
        ) from None


@contextmanager
def _refusals(kind: str, item_id: str) -> Iterator[None]:
    """The registry's refusals as the dashboard's client errors (404, 409, 400)."""
    try:
        yield
    except NotRegistered as exc:
        raise UnknownItem(exc.kind, exc.item_id) from None
    except (AlreadyRegistered, PartnerRevoked, Clash) as exc:
        raise Conflict(str(exc)) from None
    except RegistryError as exc:
        raise BadParameter(kind, f"is not valid: {exc}") from None


def _instant(fields: Mapping[str, Any], key: str, tz: str, *, required: bool) -> int:
    value = fields.get(key)
    if value is None or value == "":
        if required:
            raise BadParameter(key, "is required")
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # epoch milliseconds
    if not isinstance(value, str):
        raise BadParameter(key, "must be RFC 3339 or epoch milliseconds")
    try:
        return parse_second(value, tz)
    except ValueError as exc:
        raise BadParameter(key, str(exc)) from None


def _streams(fields: Mapping[str, Any]) -> tuple[str, ...] | None:
    """A partner's ``streams`` field: a list of stream ids (``[]``: no limit); None if absent."""
    value = fields.get("streams")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadParameter("streams", "must be a list of stream ids")
    if len(value) > 1000:
        raise BadParameter("streams", "must list at most 1,000 streams")
    return tuple(dict.fromkeys(v.strip() for v in value))


def _flag(fields: Mapping[str, Any], key: str) -> bool:
    value = fields.get(key, False)
    if not isinstance(value, bool):
        raise BadParameter(key, "must be true or false")
    return value


def current_admin() -> AdminActions:
    """The admin actions of the Dash app handling the current request."""
    actions: AdminActions = flask.current_app.extensions[EXTENSION]
    return actions


def _json(body: Any, status: int = 200) -> flask.Response:
    response = flask.Response(orjson.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _body() -> Mapping[str, Any]:
    raw = flask.request.get_data()
    if not raw.strip():
        return {}
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadParameter("body", f"must be a JSON object (not valid JSON: {exc})") from None
    if not isinstance(doc, dict):
        raise BadParameter("body", "must be a JSON object")
    return doc


def register_admin_api(server: flask.Flask, actions: AdminActions) -> None:
    """Add the ``/api/v1/admin`` routes (``auth.install_auth`` lets only admin tokens in)."""
    server.extensions[EXTENSION] = actions

    def list_partners() -> flask.Response:
        return _json({"partners": [partner_json(p) for p in actions.partners()]})

    def add_partner() -> flask.Response:
        partner, key = actions.add_partner(_body())
        return _json({"partner": partner_json(partner), "key": key}, 201)

    def revoke_partner(partner_id: str) -> flask.Response:
        return _json({"partner": partner_json(actions.revoke_partner(partner_id))})

    def update_partner(partner_id: str) -> flask.Response:
        return _json({"partner": partner_json(actions.update_partner(partner_id, _body()))})

    def rotate_key(partner_id: str) -> flask.Response:
        partner, key = actions.rotate_key(partner_id, _body())
        return _json({"partner": partner_json(partner), "key": key})

    def list_tokens() -> flask.Response:
        return _json({"tokens": [token_json(t) for t in actions.tokens()]})

    def create_token() -> flask.Response:
        token, secret = actions.create_token(_body())
        return _json({"token": token_json(token), "secret": secret}, 201)

    def revoke_token(token_id: str) -> flask.Response:
        return _json({"token": token_json(actions.revoke_token(token_id))})

    def add_segment(stream: str) -> flask.Response:
        found, segment = actions.add_segment(stream, _body())
        ends = {slot.segment.id: slot.end for slot in slots(actions.programme(stream)[1])}
        return _json({"segment": segment_json(segment, ends.get(segment.id), found.tz)}, 201)

    def remove_segment(stream: str, segment_id: str) -> flask.Response:
        actions.remove_segment(stream, segment_id)
        return flask.Response(status=204, headers={"Cache-Control": "no-store"})

    base = "/api/v1/admin"
    rules: list[tuple[str, str, Callable[..., flask.Response], list[str]]] = [
        (f"{base}/partners", "partners", list_partners, ["GET"]),
        (f"{base}/partners", "partner_add", add_partner, ["POST"]),
        (f"{base}/partners/<partner_id>/revoke", "partner_revoke", revoke_partner, ["POST"]),
        (f"{base}/partners/<partner_id>", "partner_update", update_partner, ["PATCH"]),
        (f"{base}/partners/<partner_id>/rotate-key", "partner_rotate", rotate_key, ["POST"]),
        (f"{base}/tokens", "tokens", list_tokens, ["GET"]),
        (f"{base}/tokens", "token_add", create_token, ["POST"]),
        (f"{base}/tokens/<token_id>/revoke", "token_revoke", revoke_token, ["POST"]),
        (f"{base}/streams/<stream>/segments", "segment_add", add_segment, ["POST"]),
        (
            f"{base}/streams/<stream>/segments/<segment_id>",
            "segment_remove",
            remove_segment,
            ["DELETE"],
        ),
    ]
    for rule, name, view, methods in rules:
        server.add_url_rule(rule, f"livetally_admin_{name}", view, methods=methods)
