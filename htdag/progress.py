"""Live progress of a run tree from its event stream, and a timeline of it.
Used by ``htdag run``, ``htdag demo`` and ``htdag status``; plain lines, so logs
and CI read it too."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from .core.engine import AsyncEngine
from .core.models import RunDetails
from .core.status import TaskStatus
from .notifications.events import Event
from .notifications.stream import alisten


class ProgressPrinter:
    """Turns events into short lines, indented by subgoal depth."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.start: datetime | None = None
        self.depth: dict[uuid.UUID, int] = {}
        self.tasks: dict[tuple[uuid.UUID, str], list[int]] = {}  # [done, total]
        self.goals: dict[uuid.UUID, str] = {}

    def _line(self, event: Event, text: str) -> None:
        self.start = self.start or event.created_at
        elapsed = (event.created_at - self.start).total_seconds()
        indent = "  " * self.depth.get(event.run_id, 0) if event.run_id else ""
        print(f"[{elapsed:6.2f}s] {indent}{text}", file=self.out, flush=True)

    def __call__(self, event: Event) -> None:
        kind, data, run = event.kind, event.data, event.run_id
        short = str(run)[:8] if run else ""
        if kind == "run.started" and run is not None:
            parent = data.get("parent_run_id")
            self.depth[run] = self.depth.get(uuid.UUID(parent), -1) + 1 if parent else 0
            self._line(event, f"run {short} started" + (f": {self.goals[run]}"
                                                         if run in self.goals else ""))
        elif kind == "decomposition.completed" and run is not None:
            self.goals[run] = str(data.get("goal", ""))
            self._line(event, f"planned {data.get('goal')!r} with {data.get('decomposer')}: "
                              f"{data.get('tasks')} tasks")
        elif kind == "subgoal.submitted":
            self._line(event, f"subgoal {data.get('goal')!r} -> run "
                              f"{str(data.get('child_run_id'))[:8]}")
        elif kind in ("run.completed", "run.failed", "run.cancelled"):
            error = data.get("error") or {}
            why = f": {error.get('message')}" if error else ""
            self._line(event, f"run {short} {kind.split('.')[1]}{why}")
        elif kind == "step.started" and event.step and not event.step.startswith("__"):
            total = int(data.get("tasks") or 0)
            self.tasks[(run, event.step)] = [0, total]  # type: ignore[index]
            self._line(event, f"{event.step}: started" + (f", {total} tasks" if total > 1 else ""))
        elif kind == "step.completed" and event.step and not event.step.startswith("__"):
            self._line(event, f"{event.step}: completed")
        elif kind == "step.failed" and event.step:
            self._line(event, f"{event.step}: FAILED: {data.get('error')}")
        elif kind == "task.completed" and event.step and run is not None:
            counts = self.tasks.get((run, event.step))
            if counts and counts[1] > 1:
                counts[0] += 1
                quarter = max(1, counts[1] // 4)
                if counts[0] % quarter == 0 and counts[0] < counts[1]:
                    self._line(event, f"{event.step}: {counts[0]}/{counts[1]} done")
        elif kind in ("task.retrying", "task.timed_out", "task.lost") and event.step:
            self._line(event, f"{event.step}[{event.task_index}]: {kind.split('.')[1]} "
                              f"(attempt {data.get('attempt')}): {data.get('error')}")


async def follow_run(engine: AsyncEngine, run_id: uuid.UUID,
                     on_event: Callable[[Event], None]) -> None:
    """Calls ``on_event`` for every event of the run tree until the run finishes."""
    async for event in alisten(engine, run_id, since=0, until_done=True):
        on_event(event)


def step_summary(details: RunDetails) -> str:
    """One line of a run's state: ``[running] fetch 3/3  summarize 7/10``."""
    parts = []
    for step in details.steps:
        done = sum(t.step_name == step.step_name and t.status == TaskStatus.COMPLETED
                   for t in details.tasks)
        total = step.initial_tasks if step.initial_tasks is not None else "?"
        parts.append(f"{step.step_name} {done}/{total}")
    return f"[{details.run.status.value}] " + "  ".join(parts)


def timeline(trees: list[RunDetails], width: int = 50) -> str:
    """A text Gantt chart of the steps of some runs (a root and its children)."""
    spans: list[tuple[str, datetime, datetime]] = []
    for details in trees:
        run = details.run
        prefix = "  " * run.depth
        if run.parent_run_id is not None:
            goal = run.input.get("goal") if isinstance(run.input, dict) else None
            end = run.completed_at or run.failed_at or run.cancelled_at or run.started_at
            spans.append((f"{'  ' * (run.depth - 1)}> {goal or str(run.run_id)[:8]}",
                          run.started_at, end))
        for step in details.steps:
            if step.started_at is None or step.step_name.startswith("__"):
                continue
            end = step.completed_at or step.failed_at or step.cancelled_at or step.started_at
            spans.append((prefix + step.step_name, step.started_at, end))
    if not spans:
        return ""
    t0 = min(s for _, s, _ in spans)
    t1 = max(e for _, _, e in spans)
    total = max((t1 - t0).total_seconds(), 1e-6)
    label = max(len(n) for n, _, _ in spans)
    lines = []
    for name, s, e in spans:
        a = int((s - t0).total_seconds() / total * width)
        b = max(a + 1, int((e - t0).total_seconds() / total * width))
        lines.append(f"{name:<{label}} |{' ' * a}{'#' * (b - a)}{' ' * (width - b)}| "
                     f"{(e - s).total_seconds() * 1000:7.0f} ms")
    lines.append(f"{'':<{label}}  0{'':{width - 8}}{total:6.2f}s")
    return "\n".join(lines)


async def run_tree(engine: AsyncEngine, run_id: uuid.UUID) -> list[RunDetails]:
    """The run and all its descendants, parents before children."""
    found = [await engine.status(run_id)]
    frontier = [run_id]
    while frontier:
        children = []
        for rid in frontier:
            children += [r.run_id for r in await engine.list_runs(parent_run_id=rid,
                                                                  limit=1000)]
        for child in children:
            found.append(await engine.status(child))
        frontier = children
    return found


def summarize_output(output: Any) -> str:
    import json

    return json.dumps(output, indent=2, default=str)
