"""The registration commands' text tables: streams, partners, tokens, in terminal columns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from contract.programme import slots
from contract.registry import Partner, Segment, Stream, Token

__all__ = [
    "format_partners",
    "format_programme",
    "format_streams",
    "format_tokens",
    "instant_text",
    "screen_width",
    "text_table",
]


def instant_text(ms: int) -> str:
    """An epoch millisecond as ``YYYY-MM-DD HH:MM:SSZ`` (UTC); ``-`` for 0 (never)."""
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def screen_width(text: str) -> int:
    """How many terminal columns ``text`` takes."""
    # CJK characters take two terminal columns.
    return sum(2 if ord(ch) >= 0x1100 and not 0xFF61 <= ord(ch) <= 0xFFDC else 1 for ch in text)


def text_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """``header`` and ``rows`` in columns two spaces apart, padded to their screen width."""
    all_rows = [list(header), *(list(r) for r in rows)]
    widths = [max(screen_width(row[i]) for row in all_rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell + " " * (w - screen_width(cell)) for cell, w in zip(row, widths, strict=True)
        )
        for row in all_rows
    ]
    return "\n".join(line.rstrip() for line in lines)


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
        role = t.role_text()
        rows.append(
            (t.id, role, t.name, state, instant_text(t.created_at), instant_text(t.expires_at))
        )
    if not rows:
        return "no tokens created"
    return text_table(("id", "role", "name", "state", "created", "expires"), rows)


def format_programme(programme: Sequence[Segment], tz: str) -> str:
    """A stream's segments in order, with start and end in the stream's time zone."""
    zone = ZoneInfo(tz)

    def local(second: int | None) -> str:
        if second is None:
            return "-"
        return datetime.fromtimestamp(second, zone).strftime("%Y-%m-%d %H:%M:%S")

    rows = [
        (
            slot.segment.id,
            local(slot.start),
            local(slot.end),
            slot.segment.title,
            slot.segment.title_en or "-",
        )
        for slot in slots(programme)
    ]
    if not rows:
        return "no segments in this stream's programme"
    return text_table(("id", f"start ({tz})", "end", "title", "title_en"), rows)


def format_streams(streams: Iterable[Stream]) -> str:
    """Streams as a text table."""
    rows = [(s.id, s.title, s.tz) for s in sorted(streams, key=lambda s: s.id)]
    if not rows:
        return "no streams registered"
    return text_table(("id", "title", "tz"), rows)


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
            ",".join(p.streams) or "any",
            "yes" if p.revoked else "no",
        )
        for p in sorted(partners, key=lambda p: p.id)
    ]
    if not rows:
        return "no partners registered"
    heads = ("id", "name", "name_en", "mode", "timeout", "rate", "streams", "revoked")
    return text_table(heads, rows)
