"""Alert rules over the merged per-second numbers and the partners' arrival times. Pure code.

Rules (thresholds in ``AlertRules``):

- **stale / offline / live**: a partner whose newest event *arrived* 30 s ago goes stale,
  5 min ago offline; a partner that was stale or offline and receives an event is live again.
  These are the feed statuses of ``contract.stats``, the ones the dashboard shows.
- **drop**: concurrency of a partner, or of a stream's total, at second s is at most
  (1 − 30 %) of its maximum over the 60 s before s, and that maximum was at least 50
  viewers (smaller audiences swing by 30 % all the time), for at least 5 consecutive seconds.
  One alert per run of such seconds, dated at the run's first second. "Now" is 5 s before
  the clock, as the newest seconds are still filling in.
- **milestone**: a partner's or the total views reach a milestone (every 100,000 and
  1,000,000 by default), dated at the first second they did.
- **churn**: among a partner's sessions that started in the last 5 min of event time and are
  already offline (``stream.churn``, summed over partitions), at least 500 had a single event
  and they are at least 80 % of them: the mark of a client that makes a new ``session_id``
  per heartbeat. One alert per episode, dated at the event time it was first seen; the
  episode ends once the condition has not held for 5 min of event time.

Alert ids are built from kind, stream, partner and the defining second (the milestone for
milestones), so evaluating again — after a restart, on another worker — gives the same ids
and ``AlertEvaluator`` raises each id once (a churn episode is remembered from its alert).
Conditions older than ``max_age_ms`` when first seen are not raised (a restarted system does
not page about yesterday).

Messages name partners by their display names (``PartnerNames``, from the registry); the
alert's ``platform`` and ``stream`` fields keep the ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contract.alerts import Alert
from contract.numbers import format_number
from contract.series import Steps
from contract.stats import OFFLINE_AFTER_MS, STALE_AFTER_MS, Status, feed_status
from stream.churn import WINDOW_S, RecentFigures


def _zh(count: int) -> str:
    """A count in a Chinese alert text, as the dashboard writes it (``10.0万``)."""
    return format_number(count, "zh")


def _en(count: int) -> str:
    """A count in an English alert text (``100,000``)."""
    return format_number(count, "en")


__all__ = [
    "AlertEvaluator",
    "AlertRules",
    "PartnerNames",
    "churning",
    "drop_onset",
    "ids_as_names",
    "milestones_between",
    "status_of",
]

TOTAL = "_total"
"""Stands for the stream's total in alert ids."""

PartnerNames = Callable[[str], tuple[str, str]]
"""A partner id's (Chinese, English) display names."""


def ids_as_names(platform: str) -> tuple[str, str]:
    """``PartnerNames`` without a registry: the id in both languages."""
    return platform, platform


@dataclass(frozen=True)
class AlertRules:
    """Thresholds of the alert rules."""

    stale_after_ms: int = STALE_AFTER_MS
    offline_after_ms: int = OFFLINE_AFTER_MS
    drop_ratio: float = 0.30
    drop_window_s: int = 60
    drop_min_viewers: int = 50
    milestone_every: int = 100_000
    milestones: tuple[int, ...] = (1_000_000,)
    drop_sustain_s: int = 5
    """A drop must hold this many consecutive seconds (the newest seconds are still being
    revised as partitions publish, so a one-second dip is not an outage)."""
    max_age_ms: int = 3_600_000
    settle_s: int = 5
    """Seconds before now that are evaluated as "now" (the newest events are still coming)."""
    churn_min_single: int = 500
    """Single-event sessions, among the recent offline ones, that a churn alert needs."""
    churn_percent: int = 80
    """The share (percent) of the recent offline sessions they must be, at least."""


def status_of(last_arrival: int, now_ms: int, rules: AlertRules) -> Status:
    """``contract.stats.feed_status`` with the rules' thresholds."""
    return feed_status(
        last_arrival,
        now_ms,
        stale_after_ms=rules.stale_after_ms,
        offline_after_ms=rules.offline_after_ms,
    )


def drop_onset(values: Sequence[int], rules: AlertRules) -> int | None:
    """Index in ``values`` (concurrent per second, oldest first, the last is "now") where the
    current drop began, or None when there is no drop now or it began before the values
    leave room to tell (then it was raised before, or is too old)."""
    window = rules.drop_window_s

    def dropped(i: int) -> bool:
        if i < window:
            return False
        before = max(values[i - window : i])
        return before >= rules.drop_min_viewers and values[i] <= (1 - rules.drop_ratio) * before

    last = len(values) - 1
    if last < 0 or not dropped(last):
        return None
    i = last
    while i - 1 >= window and dropped(i - 1):
        i -= 1
    if i - 1 < window or last - i + 1 < rules.drop_sustain_s:
        return None
    return i


def churning(figures: RecentFigures, rules: AlertRules) -> bool:
    """Whether a partner's recent offline sessions look like a new session per event."""
    single, offline = figures.single, figures.offline
    return single >= rules.churn_min_single and 100 * single >= rules.churn_percent * offline


def milestones_between(low: int, high: int, rules: AlertRules, limit: int = 20) -> list[int]:
    """The milestones m with low < m <= high (at most the ``limit`` highest)."""
    found = {m for m in rules.milestones if low < m <= high}
    every = rules.milestone_every
    if every > 0 and high > low:
        first = (low // every + 1) * every
        count = max(0, (high - first) // every + 1)
        start = first + max(0, count - limit) * every
        found.update(range(start, high + 1, every))
    return sorted(found)[-limit:]


def _first_second_at_least(steps: Steps, views: int) -> int | None:
    for second, numbers in zip(steps.seconds, steps.values, strict=True):
        if numbers.views >= views:
            return second
    return None


@dataclass
class AlertEvaluator:
    """Evaluates the rules and remembers what was raised, so each alert id is raised once."""

    rules: AlertRules = field(default_factory=AlertRules)
    names: PartnerNames = ids_as_names
    """Display names of partners for the messages (ids stay in the alerts' fields)."""
    raised: set[str] = field(default_factory=set)
    statuses: dict[tuple[str, str], Status] = field(default_factory=dict)
    churn_episodes: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    """Per partner in a churn episode: (second it began, last second it held), event time."""

    def remember(self, alert: Mapping[str, Any]) -> None:
        """Take an alert published before (read back from the alerts topic)."""
        alert_id = alert.get("id")
        if isinstance(alert_id, str):
            self.raised.add(alert_id)
        kind, stream, platform = alert.get("kind"), alert.get("stream"), alert.get("platform")
        if kind in ("stale", "offline", "live") and isinstance(stream, str) and platform:
            self.statuses[(stream, str(platform))] = kind  # type: ignore[assignment]
        at = alert.get("at")
        if kind == "churn" and isinstance(stream, str) and platform and isinstance(at, int):
            second = at // 1000
            self.churn_episodes[(stream, str(platform))] = (second, second)

    def _new(self, alert: Alert, now_ms: int) -> list[Alert]:
        if alert.id in self.raised:
            return []
        self.raised.add(alert.id)
        if alert.at < now_ms - self.rules.max_age_ms:
            return []
        return [alert]

    def _names(self, platform: str | None) -> tuple[str, str]:
        return self.names(platform) if platform is not None else ("全部平台", "all platforms")

    def status_alerts(
        self, last_arrivals: Mapping[tuple[str, str], int], now_ms: int
    ) -> list[Alert]:
        """Stale / offline / live-again alerts from each partner's newest arrival."""
        rules = self.rules
        out: list[Alert] = []
        for (stream, platform), arrival in sorted(last_arrivals.items()):
            current = status_of(arrival, now_ms, rules)
            previous = self.statuses.get((stream, platform))
            self.statuses[(stream, platform)] = current
            if current == previous or (current == "live" and previous is None):
                continue
            zh_name, en_name = self._names(platform)
            if current == "live":
                at, level = arrival, "info"
                zh, en = f"{zh_name} 恢复接收数据", f"{en_name} is live again"
                value: float | None = None
            elif current == "stale":
                at, level = arrival + rules.stale_after_ms, "warning"
                seconds = rules.stale_after_ms // 1000
                zh = f"{zh_name} 已 {seconds} 秒没有收到数据"
                en = f"{en_name}: no events for {seconds} s"
                value = seconds
            else:
                at, level = arrival + rules.offline_after_ms, "critical"
                minutes = rules.offline_after_ms // 60_000
                zh = f"{zh_name} 已离线（{minutes} 分钟没有数据）"
                en = f"{en_name} is offline (no events for {minutes} min)"
                value = minutes * 60
            alert = Alert(
                id=f"{current}/{stream}/{platform}/{at // 1000}",
                at=at,
                raised_at=now_ms,
                stream=stream,
                platform=platform,
                kind=current,
                level=level,  # type: ignore[arg-type]
                message_zh=zh,
                message_en=en,
                value=value,
            )
            out += self._new(alert, now_ms)
        return out

    def series_alerts(
        self, stream: str, platform: str | None, steps: Steps, now_ms: int
    ) -> list[Alert]:
        """Drop and milestone alerts of one partner (or, with ``platform`` None, the total)."""
        rules = self.rules
        now_s = now_ms // 1000 - rules.settle_s
        who = platform or TOTAL
        zh_name, en_name = self._names(platform)
        out: list[Alert] = []
        first = now_s - 3 * rules.drop_window_s
        values = [steps.at(s).concurrent for s in range(first, now_s + 1)]
        onset = drop_onset(values, rules)
        if onset is not None:
            second = first + onset
            before = max(values[onset - rules.drop_window_s : onset])
            after = values[onset]
            percent = round(100 * (before - after) / before)
            out += self._new(
                Alert(
                    id=f"drop/{stream}/{who}/{second}",
                    at=second * 1000,
                    raised_at=now_ms,
                    stream=stream,
                    platform=platform,
                    kind="drop",
                    level="critical",
                    message_zh=(
                        f"{zh_name} 在线人数 {rules.drop_window_s} 秒内下降 {percent}%"
                        f"（{_zh(before)} → {_zh(after)}）"
                    ),
                    message_en=(
                        f"{en_name}: concurrent viewers fell {percent}% within "
                        f"{rules.drop_window_s} s ({_en(before)} → {_en(after)})"
                    ),
                    value=after,
                ),
                now_ms,
            )
        views_now = steps.at(now_s).views
        views_then = steps.at((now_ms - rules.max_age_ms) // 1000).views
        for milestone in milestones_between(views_then, views_now, rules):
            reached = _first_second_at_least(steps, milestone)
            if reached is None:
                continue
            out += self._new(
                Alert(
                    id=f"milestone/{stream}/{who}/{milestone}",
                    at=reached * 1000,
                    raised_at=now_ms,
                    stream=stream,
                    platform=platform,
                    kind="milestone",
                    level="info",
                    message_zh=f"{zh_name} 观看人次突破 {_zh(milestone)}",
                    message_en=f"{en_name} passed {_en(milestone)} views",
                    value=milestone,
                ),
                now_ms,
            )
        return out

    def churn_alerts(
        self, recent: Mapping[tuple[str, str], RecentFigures], now_ms: int
    ) -> list[Alert]:
        """Churn alerts from each partner's recent sessions (summed over partitions)."""
        rules = self.rules
        minutes = WINDOW_S // 60
        out: list[Alert] = []
        for (stream, platform), figures in sorted(recent.items()):
            if figures.as_of is None:
                continue
            second = figures.as_of // 1000
            key = (stream, platform)
            episode = self.churn_episodes.get(key)
            if not churning(figures, rules):
                if episode is not None and second - episode[1] >= WINDOW_S:
                    del self.churn_episodes[key]
                continue
            if episode is not None:
                self.churn_episodes[key] = (episode[0], max(episode[1], second))
                continue
            self.churn_episodes[key] = (second, second)
            single, offline = figures.single, figures.offline
            percent = 100 * single // offline
            zh_name, en_name = self._names(platform)
            out += self._new(
                Alert(
                    id=f"churn/{stream}/{platform}/{second}",
                    at=figures.as_of,
                    raised_at=now_ms,
                    stream=stream,
                    platform=platform,
                    kind="churn",
                    level="warning",
                    message_zh=(
                        f"{zh_name} 疑似每次心跳都换新的 session_id：最近 {minutes} 分钟开始且"
                        f"已离线的 {_zh(offline)} 个会话中，{_zh(single)} 个"
                        f"只有一个事件（{percent}%）"
                    ),
                    message_en=(
                        f"{en_name}: {_en(single)} of {_en(offline)} sessions that started in the "
                        f"last {minutes} min and are offline had a single event ({percent}%)"
                        " — a new session_id per heartbeat?"
                    ),
                    value=single,
                ),
                now_ms,
            )
        return out

    def evaluate(
        self,
        steps: Mapping[tuple[str, str], Steps],
        totals: Mapping[str, Steps],
        last_arrivals: Mapping[tuple[str, str], int],
        now_ms: int,
        recent: Mapping[tuple[str, str], RecentFigures] | None = None,
    ) -> list[Alert]:
        """Every new alert at ``now_ms``: statuses, then per partner, then per stream total,
        then churn."""
        out = self.status_alerts(last_arrivals, now_ms)
        for (stream, platform), partner_steps in sorted(steps.items()):
            out += self.series_alerts(stream, platform, partner_steps, now_ms)
        for stream, total_steps in sorted(totals.items()):
            out += self.series_alerts(stream, None, total_steps, now_ms)
        if recent:
            out += self.churn_alerts(recent, now_ms)
        return out


def active_streams(
    last_arrivals: Mapping[tuple[str, str], int], now_ms: int, rules: AlertRules
) -> Iterable[str]:
    """Streams with an arrival within ``max_age_ms`` (the only ones worth evaluating)."""
    return sorted(
        {stream for (stream, _), at in last_arrivals.items() if at >= now_ms - rules.max_age_ms}
    )
