"""What the worker's Faust handlers share and delegate to: one object per lifecycle."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from stream.alert_duty import AlertDuty
from stream.assignment import Assignment
from stream.checkpointer import Checkpointer
from stream.publisher import Publisher
from stream.states import PartitionStates

__all__ = ["Runtime"]


@dataclass(frozen=True)
class Runtime:
    """The states and the objects that count, publish, checkpoint, rebalance and alert."""

    worker: str
    """The id of this process in the pipeline metrics (``stream.metrics.worker_id``)."""
    states: PartitionStates
    lock: asyncio.Lock
    """Held while a state changes or is read whole (apply, drain, checkpoint dump)."""
    publisher: Publisher
    assignment: Assignment
    alerts: AlertDuty
    checkpointer: Checkpointer | None
    """None without a checkpoint store: states are then rebuilt from the events topic."""
    metrics_interval_s: float
