"""The benchmark suite: livetally measured against the limit and the textbook approach."""

from __future__ import annotations

from livetally.bench.runner import run_bench

__all__ = ["run_bench"]
