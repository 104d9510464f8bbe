"""The event shortcuts of the partner SDK: ``join``, ``heartbeat``, ``leave`` and ``count``
each build one event of the contract's shape and hand it to ``send``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contract.wire import SessionType

__all__ = ["EventShortcuts"]


class EventShortcuts:
    """Mixed into a client that has ``send(event)`` and a ``_now_ms`` clock (epoch ms)."""

    _now_ms: Callable[[], int]

    def send(self, event: Mapping[str, Any]) -> bool:
        """Queue one event; False if it was dropped (the client's own ``send``)."""
        raise NotImplementedError

    def join(
        self,
        stream: str,
        session_id: str,
        *,
        viewer_id: str | None = None,
        ts: int | str | None = None,
        event_id: str | None = None,
    ) -> bool:
        """Send a ``join``: a viewer started watching ``stream``.

        ``ts`` is now (``now_ms``) unless given, as epoch milliseconds or an RFC 3339
        string; ``viewer_id`` (for uniques) defaults to the session on the server.
        """
        return self.send(self._session_event("join", stream, session_id, viewer_id, ts, event_id))

    def heartbeat(
        self,
        stream: str,
        session_id: str,
        *,
        viewer_id: str | None = None,
        ts: int | str | None = None,
        event_id: str | None = None,
    ) -> bool:
        """Send a ``heartbeat``: the viewer is still watching (arguments as for ``join``)."""
        return self.send(
            self._session_event("heartbeat", stream, session_id, viewer_id, ts, event_id)
        )

    def leave(
        self,
        stream: str,
        session_id: str,
        *,
        viewer_id: str | None = None,
        ts: int | str | None = None,
        event_id: str | None = None,
    ) -> bool:
        """Send a ``leave``: the viewer stopped watching (arguments as for ``join``)."""
        return self.send(self._session_event("leave", stream, session_id, viewer_id, ts, event_id))

    def count(
        self,
        stream: str,
        concurrent: int,
        *,
        cumulative: int | None = None,
        uniques: int | None = None,
        ts: int | str | None = None,
        event_id: str | None = None,
    ) -> bool:
        """Send a ``count`` (a partner in reports mode): ``concurrent`` viewers now, and
        optionally the views (``cumulative``) and ``uniques`` so far."""
        event: dict[str, Any] = {"type": "count", "stream": stream, "ts": self._ts(ts)}
        optional = {"event_id": event_id, "concurrent": concurrent}
        optional |= {"cumulative": cumulative, "uniques": uniques}
        event.update((k, v) for k, v in optional.items() if v is not None)
        return self.send(event)

    def _ts(self, ts: int | str | None) -> int | str:
        return self._now_ms() if ts is None else ts

    def _session_event(
        self,
        kind: SessionType,
        stream: str,
        session_id: str,
        viewer_id: str | None,
        ts: int | str | None,
        event_id: str | None,
    ) -> dict[str, Any]:
        event: dict[str, Any] = {"type": kind, "stream": stream, "ts": self._ts(ts)}
        event["session_id"] = session_id
        if viewer_id is not None:
            event["viewer_id"] = viewer_id
        if event_id is not None:
            event["event_id"] = event_id
        return event
