"""Self-contained SVG line charts for print (the report), without a browser or kaleido."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from dashboard.i18n import Lang, axis_labels

__all__ = ["line_chart_svg", "nice_ceiling"]

_W, _H = 640, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 30, 34


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is at least ``value`` (1 for 0)."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    steps = (1.0, 2.0, 2.5, 5.0) if magnitude >= 10 else (1.0, 2.0, 5.0)
    for step in steps:
        if step * magnitude >= value:
            return int(step * magnitude)
    return 10 * magnitude


_BANDS = ("#2563eb", "#f59e0b")
# Text styles as SVG attributes too: a renderer that does not apply the page's CSS to
# inline SVG (WeasyPrint, for the PDF) would otherwise draw every label at 16 px.
_TITLE = 'font-size="14" font-weight="700" fill="#1b1f29"'
_TICK = 'font-size="11" fill="#5b6478"'
_BAND_LABEL = 'font-size="9" fill="#5b6478"'
_LABEL_PX = 9.0
"""Width of a CJK character of a band label (Latin letters count half)."""


def _fit(label: str, width: float) -> str:
    """``label`` cut (with an ellipsis) to about ``width`` pixels; empty if nothing fits."""
    used = 0.0
    out: list[str] = []
    for ch in label:
        used += _LABEL_PX if ord(ch) >= 0x1100 else _LABEL_PX / 2
        if used > width:
            return "".join(out[:-1]) + "…" if len(out) > 1 else ""
        out.append(ch)
    return label


def _clock(second: int, tz: str) -> str:
    return datetime.fromtimestamp(second, ZoneInfo(tz)).strftime("%H:%M")


def line_chart_svg(
    seconds: Sequence[int],
    values: Sequence[int],
    *,
    title: str,
    tz: str,
    lang: Lang = "en",
    color: str = "#1f6feb",
    step: bool = True,
    bands: Sequence[tuple[int, int, str]] = (),
) -> str:
    """An SVG chart of one series over time: filled polyline, three y ticks, three time ticks.

    The y ticks are labelled in ``lang``'s axis style (``dashboard.i18n.axis_labels``).

    ``step`` draws the value as holding until the next point (counts change at instants).
    ``bands`` are (first second, end second, label) spans shaded under the line and
    labelled at the top, as far as they fall within the chart (programme segments).
    Every text is escaped, so the result can be inlined into HTML.
    """
    if len(seconds) != len(values):
        raise ValueError("seconds and values must have the same length")
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" '
        f'class="lt-svg-chart" role="img" aria-label="{escape(title)}">',
        f'<text x="{_LEFT}" y="18" class="lt-svg-title" {_TITLE}>{escape(title)}</text>',
    ]
    top = nice_ceiling(max(values, default=0))
    fractions = (0.0, 0.5, 1.0)
    labels = axis_labels([round(top * f) for f in fractions], lang)
    for fraction, label in zip(fractions, labels, strict=True):
        y = _TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}" '
            'class="lt-svg-grid" stroke="#e6e8ee"/>'
        )
        parts.append(
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'class="lt-svg-tick" {_TICK}>{escape(label)}</text>'
        )
    if not seconds:
        parts.append(f'<text x="{_W / 2}" y="{_H / 2}" text-anchor="middle">–</text></svg>')
        return "".join(parts)
    first, last = seconds[0], seconds[-1]
    span = max(1, last - first)

    def x_of(second: int) -> float:
        return _LEFT + plot_w * (second - first) / span

    def y_of(value: int) -> float:
        return _TOP + plot_h * (1 - value / top)

    for i, (band_start, band_end, label) in enumerate(bands):
        left, right = max(band_start, first), min(band_end, last)
        if right <= left:
            continue
        x0, x1 = x_of(left), x_of(right)
        parts.append(
            f'<rect x="{x0:.1f}" y="{_TOP}" width="{x1 - x0:.1f}" height="{plot_h}" '
            f'class="lt-svg-band" fill="{_BANDS[i % 2]}" fill-opacity="0.08">'
            f"<title>{escape(label)}</title></rect>"
        )
        shown = _fit(label, x1 - x0 - 4)
        if shown:
            parts.append(
                f'<text x="{x0 + 2:.1f}" y="{_TOP + 10}" class="lt-svg-band-label" {_BAND_LABEL}>'
                f"{escape(shown)}</text>"
            )
    points: list[tuple[float, float]] = []
    for i, (second, value) in enumerate(zip(seconds, values, strict=True)):
        if step and i:
            points.append((x_of(second), points[-1][1]))
        points.append((x_of(second), y_of(value)))
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    base = _TOP + plot_h
    parts.append(
        f'<polygon points="{points[0][0]:.1f},{base:.1f} {path} {points[-1][0]:.1f},{base:.1f}" '
        f'fill="{escape(color)}" fill-opacity="0.15" stroke="none"/>'
    )
    parts.append(
        f'<polyline points="{path}" fill="none" stroke="{escape(color)}" stroke-width="2"/>'
    )
    for second, anchor in ((first, "start"), (first + span // 2, "middle"), (last, "end")):
        parts.append(
            f'<text x="{x_of(second):.1f}" y="{_H - 10}" text-anchor="{anchor}" '
            f'class="lt-svg-tick" {_TICK}>{escape(_clock(second, tz))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
