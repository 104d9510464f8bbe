"""Dashboard texts in Chinese and English, and number formatting per language."""

from __future__ import annotations

from typing import Literal

__all__ = [
    "DEFAULT_LANG",
    "LANGS",
    "Lang",
    "format_age",
    "format_number",
    "format_percent",
    "lang_of",
    "text",
]

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"

_TEXTS: dict[str, tuple[str, str]] = {
    "app.title": ("直播观众统计", "Livestream audience"),
    "nav.live": ("实时", "Live"),
    "nav.screen": ("大屏", "Big screen"),
    "nav.stream": ("直播", "Stream"),
    "concurrent": ("在线人数", "Concurrent now"),
    "peak": ("峰值", "Peak"),
    "peak_at": ("峰值时间", "Peak at"),
    "views": ("观看人次", "Views"),
    "uniques": ("观众人数", "Uniques"),
    "partner": ("合作平台", "Partner"),
    "share": ("占比", "Share"),
    "status": ("状态", "Status"),
    "age": ("最新事件(秒前)", "Newest event (s ago)"),
    "status.live": ("直播中", "live"),
    "status.stale": ("延迟", "stale"),
    "status.offline": ("离线", "offline"),
    "total": ("合计", "Total"),
    "time": ("时间", "Time"),
    "chart.title": ("在线人数走势", "Concurrent viewers over time"),
    "no_stream": ("尚无直播", "No stream yet"),
    "no_data": ("暂无数据", "No data yet"),
    "partners": ("合作平台", "Partners"),
}


def lang_of(value: object) -> Lang:
    """A stored language value as a supported language (Chinese unless it is ``en``)."""
    return "en" if value == "en" else "zh"


def text(key: str, lang: Lang) -> str:
    """A text in a language; an unknown key is returned as is."""
    pair = _TEXTS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def format_number(value: int, lang: Lang) -> str:
    """zh: 103.2万 from 10,000 up, 1.2亿 from 10^8 (rounded down); en: 1,032,000."""
    if lang == "en":
        return f"{value:,}"
    sign = "-" if value < 0 else ""
    n = abs(value)
    for unit, size in (("亿", 100_000_000), ("万", 10_000)):
        if n >= size:
            tenths = n * 10 // size
            whole, frac = divmod(tenths, 10)
            return f"{sign}{whole}{'.' + str(frac) if frac else ''}{unit}"
    return f"{sign}{n}"


def format_percent(part: int, whole: int) -> str:
    """``part`` as a share of ``whole`` with one decimal; a dash when ``whole`` is 0."""
    if whole <= 0:
        return "–"
    return f"{part * 100 / whole:.1f}%"


def format_age(last_ms: int | None, now_ms: int) -> str:
    """Whole seconds since ``last_ms`` (never negative), a dash when there is none."""
    if last_ms is None:
        return "–"
    return str(max(0, (now_ms - last_ms) // 1000))
