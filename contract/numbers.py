"""How counts are written, in one rule per language: the dashboard's cards, tables,
charts and report (through ``dashboard.i18n``) and the worker's alert texts.

Chinese: grouped digits below 10万, then ``万``/``亿`` with one decimal rounded down.
English: grouped digits; ``k``/``M``/``B`` only in the ``short`` style, where space is short.
The full statement, with examples, is in docs/metrics.md ("How numbers are shown").
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Lang", "NumberStyle", "format_number", "group_digits", "units"]

Lang = Literal["zh", "en"]
NumberStyle = Literal["full", "short"]
"""``full`` for cards, tables, hover and the report; ``short`` where space is short."""

_Unit = tuple[int, int, str]
"""(from this value up, divide by, unit)."""
_ZH_UNITS: tuple[_Unit, ...] = ((100_000_000, 100_000_000, "亿"), (100_000, 10_000, "万"))
"""亿 from 10^8, 万 from 10万 (at most ``9999.9万``); below 10万 exact grouped digits."""
_EN_SHORT_UNITS: tuple[_Unit, ...] = (
    (1_000_000_000, 1_000_000_000, "B"),
    (1_000_000, 1_000_000, "M"),
    (10_000, 1_000, "k"),
)
"""English units of the ``short`` style; below 10,000 exact grouped digits (``9,999``)."""


def group_digits(value: int) -> str:
    """An integer with a comma every three digits: ``1,032,000``."""
    return f"{value:,}"


def _scaled(n: int, size: int, unit: str) -> str:
    """``n`` in units of ``size`` with one decimal, rounded down: ``103.2万``."""
    whole, tenth = divmod(n * 10 // size, 10)
    return f"{whole}.{tenth}{unit}"


def units(lang: Lang, style: NumberStyle) -> tuple[_Unit, ...]:
    """The units a language and style abbreviate with, largest first: (from this value
    up, divide by, unit)."""
    if lang == "zh":
        return _ZH_UNITS
    return _EN_SHORT_UNITS if style == "short" else ()


def format_number(value: int, lang: Lang, style: NumberStyle = "full") -> str:
    """A count as shown in a language, in one rule everywhere (see docs/metrics.md).

    Chinese: grouped digits below 10万 (``99,999``), then ``万`` from 100,000 and ``亿``
    from 10^8, with one decimal rounded down (``10.0万``, ``103.2万``, ``9999.9万``,
    ``1.2亿``): a shown number is never more than was counted. The style does not change
    Chinese. English: grouped digits (``1,032,000``); the ``short`` style, for places
    where space is short (axis ticks, the phone list), switches to ``k`` from 10,000,
    ``M`` from 10^6 and ``B`` from 10^9 with the same one decimal rounded down
    (``10.0k``, ``1.0M``).
    """
    sign = "-" if value < 0 else ""
    n = abs(value)
    for start, size, unit in units(lang, style):
        if n >= start:
            return sign + _scaled(n, size, unit)
    return sign + group_digits(n)
