"""What every part of the suite shares: the stack, the event log, the results, registration."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from contract.registry import Partner, Token, hash_secret, new_secret
from contract.registry_actions import KEY_PREFIX, TOKEN_PREFIX
from contract.settings import Settings
from livetally.bench.config import BenchConfig
from livetally.bench.report import Results
from livetally.bench.stack import BenchStack
from livetally.demo.carnival import PARTNERS, STREAM, partner_record

__all__ = ["PROBE_PARTNER", "Context", "Registration", "register"]

logger = logging.getLogger(__name__)

PROBE_PARTNER = "bench-probe"
"""The partner whose events the end-to-end run follows to the dashboard."""
BENCH_RATE = 10_000_000
"""Rate limit of the bench partners: high enough never to refuse a request."""


@dataclass
class Context:
    """The run in progress."""

    config: BenchConfig
    stack: BenchStack
    results: Results
    executor: ProcessPoolExecutor
    """The load generator's process (also runs the limit loop)."""
    log_path: Path
    base_ms: int
    """Epoch ms of the log's offset 0 (the simulated 19:00)."""
    log_events: int = 0
    extra_rows: list[tuple[str, str]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def say(self, message: str) -> None:
        """A progress line on stderr."""
        elapsed = time.monotonic() - self.started
        print(f"[bench {elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Registration:
    """Keys of one isolated set of topics."""

    keys: dict[str, str]
    probe_key: str
    token: str


def register(
    stack: BenchStack, prefix: str, partitions: int = 4, extra: Sequence[Partner] = ()
) -> Registration:
    """Register the carnival, its partners, the probe partner, ``extra`` partners and an
    admin token."""
    from livetally import registry_topic

    keys = {partner.id: new_secret(KEY_PREFIX) for partner in PARTNERS}
    probe_key = new_secret(KEY_PREFIX)
    token = new_secret(TOKEN_PREFIX)
    settings = Settings(home=stack.settings.home, kafka=stack.kafka(prefix, partitions))
    registry_topic.register(
        settings,
        STREAM,
        *(partner_record(p, keys[p.id], rate=BENCH_RATE) for p in PARTNERS),
        Partner(
            id=PROBE_PARTNER,
            name="bench probe",
            rate=1000,
            key_hash=hash_secret(probe_key),
        ),
        *extra,
        Token(id="bench", role="admin", name="bench", token_hash=hash_secret(token)),
    )
    return Registration(keys, probe_key, token)
