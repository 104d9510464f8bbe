"""Partner authentication: the bearer API key decides which partner is posting."""

from __future__ import annotations

from contract.registry import Partner, Registry
from ingest.exceptions import Unauthorized

__all__ = ["authenticate", "bearer_key"]


def bearer_key(authorization: str | None) -> str:
    """The key from an ``Authorization: Bearer <key>`` header; ``Unauthorized`` otherwise."""
    if not authorization:
        raise Unauthorized("the Authorization header is missing; send 'Bearer <API key>'")
    scheme, _, key = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <API key>'")
    return key.strip()


def authenticate(registry: Registry, authorization: str | None) -> Partner:
    """The active partner the request's API key belongs to (never echoes the key)."""
    partner = registry.partner_for_key(bearer_key(authorization))
    if partner is None:
        raise Unauthorized("the API key is unknown or revoked")
    return partner
