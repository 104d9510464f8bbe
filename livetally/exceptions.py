"""Errors the CLI reports as one clear message instead of a traceback."""

from __future__ import annotations

__all__ = ["KafkaUnavailable", "LivetallyError", "MissingRequirement", "ProcessFailed"]


class LivetallyError(Exception):
    """Base class: the message is shown to the user as is."""


class MissingRequirement(LivetallyError):
    """A tool livetally needs (Java, Maven) is not installed."""


class KafkaUnavailable(LivetallyError):
    """Kafka could not be reached or started."""


class ProcessFailed(LivetallyError):
    """A background process did not become healthy."""
