"""Run details made in memory (as engine.status returns them), for pure tests of
the run and timeline pictures."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from htdag.core.models import Run, RunDetails, StepState, Task

T0 = datetime(2026, 1, 1, tzinfo=UTC)
_TASK_IDS = itertools.count(1)


class RunMaker:
    """Builds one run's details step by step; times are seconds after T0."""

    def __init__(self, status: str = "completed", *, parent: RunMaker | None = None,
                 parent_task_id: int | None = None, goal: str | None = None) -> None:
        self.run_id = uuid.uuid4()
        self.parent = parent
        self.run: dict[str, Any] = {
            "run_id": self.run_id, "flow_hash": "f" * 32, "status": status,
            "input": {"goal": goal} if goal else {}, "remaining_steps": 0,
            "root_run_id": parent.run["root_run_id"] if parent else self.run_id,
            "parent_run_id": parent.run_id if parent else None,
            "parent_task_id": parent_task_id, "depth": parent.run["depth"] + 1 if parent else 0,
            "started_at": T0}
        self.steps: list[dict[str, Any]] = []
        self.tasks: list[dict[str, Any]] = []

    def step(self, name: str, status: str = "completed", *, tasks: int = 1,
             start: float = 0.0, seconds: float = 1.0, task_status: str | None = None
             ) -> list[int]:
        """Adds a step with ``tasks`` tasks that ran from ``start`` for ``seconds``."""
        self.steps.append({"run_id": self.run_id, "step_name": name, "flow_hash": "f" * 32,
                           "status": status, "remaining_deps": 0, "initial_tasks": tasks,
                           "created_at": T0})
        ids = []
        for i in range(tasks):
            task_id = next(_TASK_IDS)
            state = task_status or status
            began = T0 + timedelta(seconds=start)
            self.tasks.append({
                "task_id": task_id, "run_id": self.run_id, "root_run_id": self.run["root_run_id"],
                "step_name": name, "task_index": i, "handler": f"h.{name}", "status": state,
                "priority": 0, "attempts_count": 1, "max_attempts": 3, "base_delay": 1.0,
                "max_delay": 60.0, "available_at": began, "queued_at": began,
                "started_at": began,
                "completed_at": began + timedelta(seconds=seconds) if state == "completed"
                else None,
                "failed_at": began + timedelta(seconds=seconds) if state == "failed" else None})
            ids.append(task_id)
        return ids

    def details(self) -> RunDetails:
        return RunDetails(run=Run.model_validate(self.run),
                          steps=[StepState.model_validate(s) for s in self.steps],
                          tasks=[Task.model_validate(t) for t in self.tasks])
