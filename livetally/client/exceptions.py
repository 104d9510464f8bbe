"""The SDK's errors: the API refused a request or could not be reached, or a queue was full."""

from __future__ import annotations

from typing import Any

from livetally.exceptions import LivetallyError

__all__ = ["ClientError", "QueueFull"]


class ClientError(LivetallyError):
    """The ingest API refused a request, or could not be reached after every retry."""

    def __init__(self, message: str, *, status: int | None = None, problem: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem: dict[str, Any] = problem if isinstance(problem, dict) else {}


class QueueFull(ClientError):
    """A background client's queue held ``max_queue_size`` events: the new one was dropped."""
