"""The methodology note that exports and the report carry: docs/metrics.md plus a Chinese digest.

Decision: ``docs/metrics.md`` stays the one source of the definitions. It is read at run
time from the source tree this package was installed from (editable or from source, as
``make run`` and the tests do). When the package runs without the docs directory (the
Docker image copies only the packages), a short built-in digest is used instead and says
where the full text lives.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from dashboard.i18n import Lang

__all__ = ["METRICS_DOC", "methodology_lines", "methodology_text"]

METRICS_DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
"""Where the definitions live in a source checkout."""

_DIGEST_ZH = """# 统计口径（摘要）

- 在线人数：某一整秒时在线的会话数。会话在 join 或 heartbeat 之后的超时时间内在线
  （默认 30 秒），leave 时结束。
- 观看人次：有过任何事件的不同 session_id 的数量；同一 session_id 重连仍算同一次观看。
- 观众人数：这些会话中不同观众的数量（viewer_id，没有时用 session_id），精确去重。
- 自报数据的平台：采用该平台最近一次上报的数值（在线人数 120 秒内有效，累计数取最大值）。
- 合计为各平台之和；峰值为合计在线人数在各整秒中的最大值，峰值时间为最早达到峰值的一秒。
- 所有数字只取决于已接收事件的集合，与到达顺序、迟到、重复或进程崩溃无关。"""

_FALLBACK_EN = """# How livetally counts (methodology, digest)

- Concurrent: sessions online at a whole second (online from a join or heartbeat until the
  partner's session timeout, 30 s by default, or a leave).
- Views: distinct session_ids with any event so far. Uniques: distinct viewers among them
  (viewer_id, else session_id), exact.
- Reports-mode partners: their latest report (concurrent valid for 120 s; cumulative counters
  take their maximum).
- Totals are sums over partners; the peak is the largest total concurrent over whole seconds,
  peak time the earliest second it held.

The full text is docs/metrics.md in the livetally source."""


@lru_cache(maxsize=1)
def _metrics_doc() -> str | None:
    try:
        return METRICS_DOC.read_text(encoding="utf-8")
    except OSError:
        return None


def methodology_text(lang: Lang, *, brief: bool = False) -> str:
    """The note as Markdown: docs/metrics.md, preceded by a Chinese digest for zh.

    ``brief`` (the one-page report) gives Chinese readers the digest alone and a pointer.
    """
    full = _metrics_doc() or _FALLBACK_EN
    if lang == "zh":
        if brief:
            return f"{_DIGEST_ZH}\n\n完整说明（英文）见 livetally 的 docs/metrics.md。"
        return f"{_DIGEST_ZH}\n\n完整说明（英文原文）：\n\n{full}"
    return full


def methodology_lines(lang: Lang) -> list[str]:
    """The note as lines (blank lines kept), for a spreadsheet column."""
    return methodology_text(lang).splitlines()
