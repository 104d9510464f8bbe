"""Errors the dashboard reports to clients; ``api.py`` maps them to HTTP problems."""

from __future__ import annotations

__all__ = [
    "BadParameter",
    "Conflict",
    "DashboardError",
    "FontMissing",
    "Forbidden",
    "NotAuthorized",
    "RegistryUnavailable",
    "TooManyRequests",
    "UnknownItem",
    "UnknownStream",
]


class DashboardError(Exception):
    """Base of the dashboard's client-facing errors."""

    status = 400
    title = "Bad request"

    @property
    def detail(self) -> str:
        """What went wrong, for the client."""
        return str(self)


class UnknownStream(DashboardError):
    """No stream with this id is registered or has data."""

    status = 404
    title = "Unknown stream"

    def __init__(self, stream: str) -> None:
        super().__init__(f"no stream {stream!r} is registered")
        self.stream = stream


class BadParameter(DashboardError):
    """A query parameter that cannot be used."""

    status = 400
    title = "Bad parameter"

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"parameter {name!r} {problem}")
        self.name = name


class RegistryUnavailable(DashboardError):
    """A registry write (partner or token) that Kafka refused or did not take."""

    status = 503
    title = "Registry not writable"


class FontMissing(DashboardError):
    """The server cannot render Chinese text into a file: no CJK font is installed."""

    status = 503
    title = "Font missing"


class NotAuthorized(DashboardError):
    """No valid token was presented."""

    status = 401
    title = "Not authorized"


class Forbidden(DashboardError):
    """A valid token whose role may not do this."""

    status = 403
    title = "Forbidden"


class UnknownItem(DashboardError):
    """No partner or token with this id is registered."""

    status = 404
    title = "Not found"

    def __init__(self, kind: str, item_id: str) -> None:
        super().__init__(f"no {kind} with id {item_id!r} is registered")


class Conflict(DashboardError):
    """The request clashes with what is registered."""

    status = 409
    title = "Conflict"


class TooManyRequests(DashboardError):
    """Too many costly requests in progress; the client should wait ``retry_after_s``."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s
