"""The suite's results: the JSON document, the targets and their verdicts, the table."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "KEYS",
    "TARGETS",
    "Results",
    "Target",
    "Verdict",
    "format_table",
    "parse_cpu_model",
    "verdict",
]

KEYS: tuple[str, ...] = (
    "ingest_events_per_s",
    "ingest_p99_ms_at_20k",
    "records_per_s_per_partition",
    "aggregate_events_per_s",
    "limit_events_per_s",
    "textbook_events_per_s",
    "quix_events_per_s",
    "ratio_vs_limit",
    "ratio_vs_textbook",
    "ratio_vs_quix",
    "e2e_p50_ms_at_20k",
    "e2e_p95_ms_at_20k",
    "e2e_p99_ms_at_20k",
    "rss_mib_100k_sessions",
    "rss_mib_1m_sessions",
    "rss_mib_10m_sessions",
    "restore_s_10m_sessions",
    "worst_cost_ratio",
    "adversarial_stall_ms",
    "dashboard_viewers_p95_1s",
    "public_requests_per_s",
    "public_p99_ms",
    "capacity_events_per_s",
)
"""The figures every run reports, each a number or null with the reason in ``why_null``."""

Verdict = Literal["met", "missed", "not measured"]


@dataclass(frozen=True)
class Target:
    """A goal one figure is held to."""

    key: str
    op: Literal[">=", "<="]
    value: float
    text: str


TARGETS: tuple[Target, ...] = (
    Target("ingest_events_per_s", ">=", 50_000, ">= 50,000 events/s"),
    Target("aggregate_events_per_s", ">=", 250_000, ">= 250,000 events/s"),
    Target("ratio_vs_limit", ">=", 0.5, ">= 0.50 of the limit"),
    Target("ratio_vs_textbook", ">=", 5.0, ">= 5x the textbook app"),
    Target("ratio_vs_quix", ">=", 5.0, ">= 5x the Quix Streams app"),
    Target("e2e_p95_ms_at_20k", "<=", 2000, "p95 <= 2,000 ms"),
    Target("rss_mib_1m_sessions", "<=", 300, "<= 300 MiB"),
    Target("rss_mib_10m_sessions", "<=", 2560, "<= 2,560 MiB (2.5 GiB)"),
    Target("restore_s_10m_sessions", "<=", 60, "<= 60 s"),
    Target("worst_cost_ratio", "<=", 10.0, "<= 10x a normal event"),
    Target("adversarial_stall_ms", "<=", 5000, "<= 5,000 ms"),
    Target("dashboard_viewers_p95_1s", ">=", 200, ">= 200 live-page viewers"),
    Target("public_requests_per_s", ">=", 5_000, ">= 5,000 requests/s at p99 <= 50 ms"),
    Target("capacity_events_per_s", ">=", 80_000, ">= 80,000 events/s at p95 <= 2 s"),
)
"""The targets every run is held to."""

_LABELS: dict[str, tuple[str, str]] = {
    "ingest_events_per_s": ("Ingest: events/s accepted (500-event batches)", "rate"),
    "ingest_p99_ms_at_20k": ("Ingest: request p99 at the offered load", "ms"),
    "records_per_s_per_partition": ("Ingest: events-topic records/s per partition", "rate"),
    "aggregate_events_per_s": ("Aggregation: livetally worker, events/s", "rate"),
    "limit_events_per_s": ("Aggregation: limit (bare aiokafka decode+count)", "rate"),
    "textbook_events_per_s": ("Aggregation: textbook Faust app, events/s", "rate"),
    "quix_events_per_s": ("Aggregation: Quix Streams app, events/s", "rate"),
    "ratio_vs_limit": ("Aggregation: livetally / limit", "ratio"),
    "ratio_vs_textbook": ("Aggregation: livetally / textbook", "ratio"),
    "ratio_vs_quix": ("Aggregation: livetally / Quix Streams", "ratio"),
    "e2e_p50_ms_at_20k": ("End to end: 202 -> summary API, p50", "ms"),
    "e2e_p95_ms_at_20k": ("End to end: p95", "ms"),
    "e2e_p99_ms_at_20k": ("End to end: p99", "ms"),
    "rss_mib_100k_sessions": ("Worker RSS with 100k sessions", "mib"),
    "rss_mib_1m_sessions": ("Worker RSS with 1M sessions", "mib"),
    "rss_mib_10m_sessions": ("Worker RSS with 10M sessions", "mib"),
    "restore_s_10m_sessions": ("Fresh worker: restore of 10M sessions", "s"),
    "worst_cost_ratio": ("Worst event pattern: CPU per event / heartbeat's", "ratio"),
    "adversarial_stall_ms": ("Adversarial: longest wait of another partner", "ms"),
    "dashboard_viewers_p95_1s": ("Dashboard: live-page viewers at callback p95 <= 1 s", "count"),
    "public_requests_per_s": ("Public counter: requests/s at p99 <= 50 ms", "rate"),
    "public_p99_ms": ("Public counter: p99 of that step", "ms"),
    "capacity_events_per_s": ("One box: events/s sustained end to end", "rate"),
}


def verdict(target: Target, value: float | None) -> Verdict:
    """Whether ``value`` meets ``target``."""
    if value is None:
        return "not measured"
    ok = value >= target.value if target.op == ">=" else value <= target.value
    return "met" if ok else "missed"


def format_value(value: float | None, kind: str) -> str:
    """A figure as the table shows it."""
    if value is None:
        return "n/a"
    if kind == "rate":
        return f"{value:,.0f}"
    if kind == "ms":
        return f"{value:,.1f} ms"
    if kind == "ratio":
        return f"{value:.2f}x"
    if kind == "mib":
        return f"{value:,.1f} MiB"
    if kind == "s":
        return f"{value:,.1f} s"
    return f"{value:g}"


def parse_cpu_model(cpuinfo: str) -> str:
    """The CPU model named in the text of ``/proc/cpuinfo`` ("unknown" if none)."""
    for key in ("model name", "Hardware", "cpu model", "Processor"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
        if match:
            return match.group(1).strip()
    return "unknown"


@dataclass
class Results:
    """Everything one run measured."""

    figures: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(KEYS))
    why_null: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    date: str = ""
    quick: bool = False
    command: str = ""
    notes: list[str] = field(default_factory=list)
    """Caveats printed under the table and kept in the JSON."""

    def set(self, key: str, value: float | None, why: str = "") -> None:
        """Record a figure, or None with the reason it could not be measured."""
        if key not in KEYS:
            raise ValueError(f"unknown figure {key!r}")
        self.figures[key] = None if value is None else round(float(value), 3)
        if value is None:
            self.why_null[key] = why or "not measured"
        else:
            self.why_null.pop(key, None)

    def fail(self, keys: Sequence[str], why: str) -> None:
        """Mark figures that a failed part of the suite could not measure."""
        for key in keys:
            if self.figures.get(key) is None:
                self.set(key, None, why)

    def verdicts(self) -> dict[str, Verdict]:
        """Target key → verdict."""
        return {t.key: verdict(t, self.figures.get(t.key)) for t in TARGETS}

    def as_json(self) -> dict[str, Any]:
        """The JSON document: the figures at the top level, then the rest."""
        for key in KEYS:
            if self.figures.get(key) is None and key not in self.why_null:
                self.why_null[key] = "not measured"
        return {
            **self.figures,
            "machine": self.machine,
            "date": self.date,
            "quick": self.quick,
            "command": self.command,
            "why_null": dict(self.why_null),
            "notes": list(self.notes),
            "targets": {
                t.key: {"target": t.text, "verdict": v}
                for t, v in zip(TARGETS, self.verdicts().values(), strict=True)
            },
            "details": self.details,
        }


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = "+".join("-" * (w + 2) for w in widths)

    def fmt(cells: Sequence[str]) -> str:
        return "|".join(f" {cell:<{w}} " for cell, w in zip(cells, widths, strict=True))

    return [fmt(header), line, *(fmt(row) for row in rows)]


def format_table(results: Results, extra_rows: Sequence[tuple[str, str]] = ()) -> str:
    """The human-readable report: machine, figures with target and verdict, notes."""
    machine = results.machine
    lines = [
        f"livetally bench{' --quick' if results.quick else ''}  {results.date}",
        f"machine: {machine.get('cpu_model', '?')}, {machine.get('cores', '?')} cores, "
        f"load average {machine.get('load_average', '?')}",
        "",
    ]
    targets = {t.key: t for t in TARGETS}
    verdicts = results.verdicts()
    rows: list[list[str]] = []
    for key in KEYS:
        label, kind = _LABELS[key]
        target = targets.get(key)
        judged: str = verdicts[key] if target is not None else ""
        if target is not None and results.quick and judged != "not measured":
            judged = "(quick run: not judged)"
        rows.append(
            [
                label,
                format_value(results.figures.get(key), kind),
                target.text if target else "",
                judged,
            ]
        )
    lines.extend(_table(["figure", "value", "target", "verdict"], rows))
    if extra_rows:
        lines.append("")
        lines.extend(_table(["more", "value"], [list(row) for row in extra_rows]))
    if results.notes:
        lines.extend(["", "notes:", *(f"  {note}" for note in results.notes)])
    missing = [f"  {key}: {why}" for key, why in results.why_null.items()]
    if missing:
        lines.extend(["", "not measured:", *missing])
    return "\n".join(lines)
