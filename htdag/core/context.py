"""What a handler gets besides its input."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import TaskCancelled

if TYPE_CHECKING:
    from .engine import AsyncEngine


@dataclass
class TaskContext:
    """Passed as the second argument to handlers that take two parameters."""

    run_id: uuid.UUID
    step: str
    task_index: int
    attempt: int
    task_id: int
    engine: AsyncEngine = field(repr=False)
    logger: logging.Logger = field(repr=False)
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def idempotency_key(self) -> str:
        """Stable across retries of this task: use it to make side effects idempotent."""
        return f"{self.run_id}:{self.step}:{self.task_index}"

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()

    def raise_if_cancelled(self) -> None:
        """Long sync handlers call this now and then to stop when their run is cancelled."""
        if self.cancelled.is_set():
            raise TaskCancelled(f"task {self.step}[{self.task_index}] of run {self.run_id} "
                                "was cancelled")

    def extra(self) -> dict[str, Any]:
        return {"run_id": str(self.run_id), "step": self.step, "task_index": self.task_index}
