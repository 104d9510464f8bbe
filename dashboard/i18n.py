"""Dashboard texts in Chinese and English, and number formatting per language.

The count rule itself (``format_number``) is ``contract.numbers``, shared with the alert
texts the worker writes; it is re-exported here with the dashboard's other formats."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from contract.numbers import Lang, NumberStyle, format_number, group_digits, units

__all__ = [
    "DEFAULT_LANG",
    "LANGS",
    "Lang",
    "NumberStyle",
    "axis_labels",
    "format_age",
    "format_decimal",
    "format_number",
    "format_percent",
    "group_digits",
    "lang_of",
    "text",
]

LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"


_TEXTS: dict[str, tuple[str, str]] = {
    "app.title": ("直播观众统计", "Livestream audience"),
    "signin.title": ("登录", "Sign in"),
    "signin.lead": (
        "请粘贴管理员给您的访问令牌。登录后会话保持 {hours} 小时。",
        "Paste the access token you were given. You stay signed in for {hours} hours.",
    ),
    "signin.token": ("访问令牌", "Access token"),
    "signin.submit": ("登录", "Sign in"),
    "signin.invalid": (
        "令牌无效、已吊销或已过期。",
        "The token is not valid, was revoked or has expired.",
    ),
    "signin.expired": ("会话已结束，请重新登录。", "Your session has ended; sign in again."),
    "signin.other_lang": ("English", "中文"),
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
    "nav.monitor": ("监控", "Monitor"),
    "nav.exports": ("导出", "Exports"),
    "nav.admin": ("管理", "Admin"),
    "cumulative.title": ("累计观看人次", "Cumulative views"),
    "chart.stacked": ("堆叠面积", "Stacked areas"),
    "chart.lines": ("折线", "Lines"),
    "alerts": ("告警", "Alerts"),
    "alerts.none": ("暂无告警", "No alerts"),
    "level.info": ("提示", "info"),
    "level.warning": ("警告", "warning"),
    "level.critical": ("严重", "critical"),
    "export.stream": ("直播", "Stream"),
    "export.stream_id": ("直播代码", "Stream id"),
    "export.tz": ("时区", "Time zone"),
    "export.from": ("开始", "From"),
    "export.to": ("结束", "To"),
    "export.resolution": ("时间粒度", "Resolution"),
    "export.peak_segment": ("峰值时的节目", "Segment at the peak"),
    "export.report_pdf": ("报告 PDF", "Report (PDF)"),
    "export.report_docx": ("报告 Word", "Report (Word)"),
    "segment": ("节目", "Segment"),
    "segments": ("节目单", "Programme"),
    "segment.none": ("尚无节目单", "No programme yet"),
    "segment.start": ("开始时间", "Start"),
    "segment.end": ("结束时间", "End"),
    "segment.title": ("节目名称", "Title"),
    "segment.title_en": ("英文名称", "English title"),
    "segment.views_gained": ("新增观看人次", "Views gained"),
    "segment.avg_concurrent": ("平均在线人数", "Average concurrent"),
    "segment.add": ("添加节目", "Add segment"),
    "segment.remove": ("删除节目", "Remove segment"),
    "segment.id": ("节目代码", "Segment id"),
    "segment.removed": ("已删除", "removed"),
    "segment.pick_stream": ("请先选择直播", "Choose a stream first"),
    "segment.hint": (
        "时间不带时区时按该直播的时区；不填结束时间则持续到下一个节目开始。",
        "Times without an offset are in the stream's time zone; without an end a segment "
        "lasts until the next one starts.",
    ),
    "optional": ("可不填", "optional"),
    "export.format": ("格式", "Format"),
    "export.language": ("语言", "Language"),
    "export.sheet_data": ("数据", "Data"),
    "export.sheet_summary": ("概要与口径", "Summary"),
    "export.methodology": ("统计口径", "Methodology"),
    "export.download": ("下载", "Download"),
    "export.report": ("打开赛后报告", "Open the post-event report"),
    "export.title": ("数据导出", "Exports"),
    "export.range_hint": (
        "时间可留空（从数据开始到数据结束）；格式 2024-12-21T19:30:00 或带时区偏移",
        "Leave times empty for the whole stream; 2024-12-21T19:30:00 or with an offset",
    ),
    "report.title": ("赛后报告", "Post-event report"),
    "report.generated": ("生成时间", "Generated"),
    "report.headline": ("核心数据", "Headline numbers"),
    "report.share": ("观看人次占比", "Share of views"),
    "report.peak_share": ("峰值时占比", "Share at peak"),
    "report.print": ("打印", "Print"),
    "report.at_peak": ("峰值时在线", "At the peak"),
    "report.partners_count": ("合作平台数", "Partners"),
    "monitor.title": ("合作平台监控", "Partner monitor"),
    "monitor.events_per_s": ("事件/秒", "Events/s"),
    "monitor.events": ("事件总数", "Events"),
    "monitor.rejected": ("拒收(按原因)", "Rejected (by reason)"),
    "monitor.accepted": ("接收", "Accepted"),
    "monitor.history": ("状态变化", "Status history"),
    "monitor.pipeline": ("处理管道", "Pipeline"),
    "monitor.worker": ("处理进程", "Worker"),
    "monitor.partitions": ("分区", "Partitions"),
    "monitor.lag": ("消费积压", "Consumer lag"),
    "monitor.latency": (
        "事件到看板延迟(毫秒) p50/p95/p99",
        "Event-to-dashboard latency (ms) p50/p95/p99",
    ),
    "monitor.reported": ("上报时间", "Reported"),
    "monitor.no_pipeline": ("尚无处理进程上报", "No worker has reported yet"),
    "monitor.pipeline_hidden": (
        "处理进程状态不对受限令牌显示",
        "The pipeline is not shown to limited tokens",
    ),
    "monitor.ingest_hidden": (
        "接收与拒收数按合作方统计全部直播，不对限定直播的令牌显示",
        "Accepted and rejected counts cover a partner's events in every stream, so they "
        "are not shown to tokens limited to streams",
    ),
    "monitor.no_history": ("尚无状态变化", "No status changes yet"),
    "monitor.ingest": ("接入服务", "Ingest"),
    "admin.title": ("管理", "Administration"),
    "admin.forbidden": ("需要管理员令牌", "An admin token is needed for this page"),
    "screen.forbidden": (
        "大屏展示整场活动，合作方令牌不能打开",
        "The big screen shows the whole event; a partner token cannot open it",
    ),
    "admin.add_partner": ("添加合作平台", "Add a partner"),
    "admin.partner_id": ("平台代码", "Partner id"),
    "admin.name": ("名称(中文)", "Name (Chinese)"),
    "admin.name_en": ("名称(英文)", "Name (English)"),
    "admin.mode": ("模式", "Mode"),
    "admin.timeout": ("会话超时(秒)", "Session timeout (s)"),
    "admin.submit": ("提交", "Submit"),
    "admin.rotate_key": ("更换密钥", "New key"),
    "admin.rotated_key_once": (
        "新 API 密钥(仅显示这一次;旧密钥在 {until} 前仍然有效):",
        "New API key (shown only this once; the old key works until {until}):",
    ),
    "admin.revoke": ("吊销", "Revoke"),
    "admin.revoked": ("已吊销", "revoked"),
    "admin.active": ("有效", "active"),
    "admin.key_once": (
        "新密钥（只显示这一次，请立即保存）：",
        "New key (shown only this once; store it now):",
    ),
    "admin.token_once": (
        "新令牌（只显示这一次，请立即保存）：",
        "New token (shown only this once; store it now):",
    ),
    "admin.tokens": ("看板令牌", "Dashboard tokens"),
    "admin.create_token": ("创建令牌", "Create a token"),
    "admin.role": ("角色", "Role"),
    "admin.token_name": ("备注", "Label"),
    "admin.token_stream": (
        "直播（公开令牌必选；查看/合作方令牌可限于此直播）",
        "Stream (a public token's; limits a viewer or partner token)",
    ),
    "admin.token_partner": ("合作方（合作方令牌）", "Partner (partner token)"),
    "admin.token_expires": (
        "有效期(如 7d、12h，留空为长期)",
        "Expires after (e.g. 7d, 12h; empty: never)",
    ),
    "admin.expires": ("到期", "Expires"),
    "admin.expired": ("已过期", "expired"),
    "admin.done": ("已完成", "Done"),
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


def format_decimal(value: float, lang: Lang, places: int = 1) -> str:
    """A measured rate or duration (events/s, ms): grouped with ``places`` decimals; from
    the first abbreviated size on, the count rule of ``format_number``."""
    if lang == "zh" and abs(value) >= units("zh", "full")[-1][0]:
        return format_number(int(value), lang)
    return f"{value:,.{places}f}"


def axis_labels(values: Sequence[int], lang: Lang) -> list[str]:
    """Labels for one axis's ticks, all in the unit the largest tick would get in the
    ``short`` style (``0``, ``5万``, ``10万``, ``15万``), with only the decimals a tick needs."""
    top = max((abs(v) for v in values), default=0)
    for start, size, unit in units(lang, "short"):
        if top >= start:
            return [_exact_in(v, size) + (unit if v else "") for v in values]
    return [group_digits(v) for v in values]


def _exact_in(value: int, size: int) -> str:
    """``value / size`` written exactly, without trailing zeros (ticks are round numbers)."""
    return format((Decimal(value) / Decimal(size)).normalize(), "f")


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
