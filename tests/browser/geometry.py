"""Layout checks in the page: overflow, and overlapping boxes of named elements."""

from __future__ import annotations

from typing import Any

CHART_PARTS = {
    "chart title": ".gtitle",
    "x-axis title": ".xtitle",
    "y-axis title": ".ytitle",
    "legend": ".legend",
    "x tick": ".xtick text",
    "y tick": ".ytick text",
}
"""Plotly's own SVG elements: each title, the legend and every tick label."""

_OVERLAPS = """
([groups, slack]) => {
  const found = [];
  for (const [name, selector] of Object.entries(groups)) {
    document.querySelectorAll(selector).forEach((el) => {
      const style = getComputedStyle(el);
      if (style.display === 'none' || style.visibility === 'hidden') return;
      const r = el.getBoundingClientRect();
      if (r.width < 1 || r.height < 1) return;
      if ((el.textContent || '').trim() === '' && el.tagName !== 'g') return;
      const chart = el.closest('.dash-graph, .js-plotly-plot');
      found.push({el, name, r, text: (el.textContent || '').trim().slice(0, 30),
                  chart: chart ? (chart.id || (chart.parentElement || {}).id || '') : ''});
    });
  }
  const problems = [];
  for (let i = 0; i < found.length; i++) {
    for (let j = i + 1; j < found.length; j++) {
      const a = found[i], b = found[j];
      if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
      const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
      const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
      if (w > slack && h > slack) {
        problems.push(`${a.name} "${a.text}" ${a.chart} overlaps ${b.name} "${b.text}" ` +
                      `${b.chart} by ${w.toFixed(1)}x${h.toFixed(1)} px`);
      }
    }
  }
  return {count: found.length, names: [...new Set(found.map((f) => f.name))], problems};
}
"""


def overlaps(page: Any, groups: dict[str, str], slack: float = 0.5) -> dict[str, Any]:
    """Every pair of visible, non-empty named elements whose boxes overlap (neither holding
    the other), with the names that were found at all (so a check cannot pass vacuously).

    ``slack`` px of overlap is allowed: adjacent boxes share an edge after rounding.
    """
    result: dict[str, Any] = page.evaluate(_OVERLAPS, [groups, slack])
    return result


def overflow(page: Any) -> dict[str, float]:
    """The page's scroll size against the viewport's."""
    result: dict[str, float] = page.evaluate(
        "() => ({scrollWidth: document.scrollingElement.scrollWidth,"
        " scrollHeight: document.scrollingElement.scrollHeight,"
        " innerWidth: window.innerWidth, innerHeight: window.innerHeight})"
    )
    return result
