"""The Event model and the kinds of events."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..core.errors import HtdagError


class EventKind(StrEnum):
    RUN_STARTED = "run.started"
    RUN_COMPLETED = "run.completed"
    RUN_FAILED = "run.failed"
    RUN_CANCELLED = "run.cancelled"
    STEP_STARTED = "step.started"
    STEP_COMPLETED = "step.completed"
    STEP_FAILED = "step.failed"
    TASK_STARTED = "task.started"
    TASK_HEDGED = "task.hedged"  # a second execution of a straggler started (hedge_after)
    TASK_COMPLETED = "task.completed"
    TASK_FAILED = "task.failed"
    TASK_RETRYING = "task.retrying"
    TASK_RELEASED = "task.released"
    TASK_TIMED_OUT = "task.timed_out"  # the step's timeout ran out
    TASK_LOST = "task.lost"  # its lease expired: the worker died or went silent
    WORKER_JOINED = "worker.joined"
    WORKER_STOPPED = "worker.stopped"
    WORKER_LOST = "worker.lost"
    # The planning layer's kinds (recorded by htdag's planner and optimizer).
    DECOMPOSITION_STARTED = "decomposition.started"
    DECOMPOSITION_COMPLETED = "decomposition.completed"
    DECOMPOSITION_FAILED = "decomposition.failed"
    DECOMPOSITION_REPLANNED = "decomposition.replanned"  # a failed run planned again
    CACHE_HIT = "cache.hit"  # the plan cache served a plan (no run)
    CACHE_MISS = "cache.miss"  # the plan cache had none to serve (no run)
    CACHE_EVICTED = "cache.evicted"  # an entry went over the cache's size limit (no run)
    SUBGOAL_SUBMITTED = "subgoal.submitted"
    SUBGOAL_COMPLETED = "subgoal.completed"
    SUBGOAL_FAILED = "subgoal.failed"
    OPTIMIZER_APPLIED = "optimizer.applied"

    @property
    def category(self) -> str:
        return self.value.split(".", 1)[0]


CATEGORIES = frozenset(k.category for k in EventKind)
RUN_FINISHED = frozenset({EventKind.RUN_COMPLETED, EventKind.RUN_FAILED,
                          EventKind.RUN_CANCELLED})


class UnknownEventKindError(HtdagError, ValueError):
    """An event kind filter names no known kind."""


def parse_kinds(kinds: str | Iterable[str] | None) -> frozenset[str] | None:
    """Kinds (``"task.failed"``) or categories (``"task"``) -> the set of kinds."""
    if kinds is None:
        return None
    items = [kinds] if isinstance(kinds, str) else list(kinds)
    chosen: set[str] = set()
    for item in items:
        if item in CATEGORIES:
            chosen.update(k.value for k in EventKind if k.category == item)
        elif item in EventKind._value2member_map_:
            chosen.add(item)
        else:
            raise UnknownEventKindError(
                f"unknown event kind {item!r}; use a kind such as 'task.failed' or a category "
                f"({', '.join(sorted(CATEGORIES))})")
    return frozenset(chosen)


@dataclass(frozen=True)
class Event:
    """One state change. ``data`` is small (ids, attempt numbers, errors),
    never a task's output: read outputs from the run."""

    id: int
    kind: str
    run_id: uuid.UUID | None
    root_run_id: uuid.UUID | None
    step: str | None
    task_index: int | None
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    tx_id: int = field(default=0, repr=False, compare=False)

    @property
    def position(self) -> tuple[int, int]:
        """Where the event stands in the stream (transaction, then id)."""
        return (self.tx_id, self.id)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Event:
        # Task events keep their attempt and worker in columns; other kinds
        # keep what they say in data.
        data: dict[str, Any] = {}
        if row.get("attempt") is not None:
            data["attempt"] = row["attempt"]
        if row.get("worker_id") is not None:
            data["worker_id"] = str(row["worker_id"])
        if row["data"]:
            data.update(row["data"])
        return cls(id=row["event_id"], kind=row["kind"], run_id=row["run_id"],
                   root_run_id=row["root_run_id"], step=row["step_name"],
                   task_index=row["task_index"], created_at=row["created_at"],
                   data=data, tx_id=row.get("tx_id") or 0)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind,
                "run_id": None if self.run_id is None else str(self.run_id),
                "root_run_id": None if self.root_run_id is None else str(self.root_run_id),
                "step": self.step, "task_index": self.task_index,
                "created_at": self.created_at.isoformat(), "data": self.data}

    def __str__(self) -> str:
        where = ""
        if self.run_id is not None:
            where = f" run={str(self.run_id)[:8]}"
        if self.step is not None:
            where += f" step={self.step}"
        if self.task_index is not None:
            where += f"[{self.task_index}]"
        extra = "".join(f" {k}={v}" for k, v in self.data.items() if v is not None)
        return f"#{self.id} {self.created_at:%H:%M:%S.%f} {self.kind}{where}{extra}"
