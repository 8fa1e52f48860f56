"""What a run tree looks like while it runs, and after: a model of it built from
its event stream (or from the tables), plain progress lines for logs, pipes and
CI, and a text timeline. Used by ``htdag run``, ``htdag demo`` and ``htdag status``;
the live terminal view (htdag.live) draws the same model."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from .core.engine import AsyncEngine
from .core.models import RunDetails, StepState
from .core.status import TaskStatus
from .notifications.events import Event
from .notifications.stream import alisten

FINISHED_STEP = ("completed", "failed", "cancelled")


def hidden_step(name: str) -> bool:
    """Steps the flow builder adds (``__x_items``) are plumbing, not the user's tasks."""
    return name.startswith("__")


@dataclass
class StepView:
    """One step of a run as people see it: waiting, running, completed, failed
    or cancelled, with its tasks done out of its total (known once it starts)."""

    name: str
    status: str = "waiting"
    done: int = 0
    total: int | None = None
    failed: int = 0
    retries: int = 0
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass
class RunView:
    """One run of a tree: its goal (planner runs) or flow name, its steps in
    flow order, and where it hangs (the parent run and the step that submitted it)."""

    run_id: uuid.UUID
    status: str = "running"
    goal: str | None = None
    flow_name: str | None = None
    parent: uuid.UUID | None = None
    parent_step: str | None = None
    steps: dict[str, StepView] = field(default_factory=dict)
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def title(self) -> str:
        return self.goal or self.flow_name or f"run {str(self.run_id)[:8]}"

    def step(self, name: str) -> StepView:
        return self.steps.setdefault(name, StepView(name))


class RunTreeState:
    """A run and its child runs, kept up to date by :meth:`apply` (events) and
    :meth:`add_details` (rows from the tables). Child runs hang under the step
    whose task submitted them, or under their run until that is known."""

    def __init__(self, root: uuid.UUID) -> None:
        self.root = root
        self.runs: dict[uuid.UUID, RunView] = {root: RunView(root)}
        self._task_steps: dict[tuple[uuid.UUID, int], str] = {}  # (run, task id) -> step

    def run(self, run_id: uuid.UUID) -> RunView:
        return self.runs.setdefault(run_id, RunView(run_id))

    def children(self, run_id: uuid.UUID, step: str | None) -> list[RunView]:
        """The child runs of ``run_id`` submitted by ``step`` (None: not yet known)."""
        return [r for r in self.runs.values() if r.parent == run_id and r.parent_step == step]

    def apply(self, event: Event) -> None:
        """Updates the model with one event of the tree's stream."""
        kind, data = event.kind, event.data
        if event.run_id is None:
            return
        run = self.run(event.run_id)
        if kind == "run.started":
            run.started_at = run.started_at or event.created_at
            if data.get("parent_run_id"):
                run.parent = uuid.UUID(str(data["parent_run_id"]))
        elif kind in ("run.completed", "run.failed", "run.cancelled"):
            run.status = kind.split(".")[1]
            run.finished_at = event.created_at
            run.error = _error_text(data.get("error"))
            for step in run.steps.values():  # the engine cancelled what had not finished
                if kind != "run.completed" and step.status in ("waiting", "running"):
                    step.status = "cancelled"
                    step.finished_at = event.created_at if step.started_at else None
        elif kind == "decomposition.completed":
            run.goal = str(data.get("goal") or "") or run.goal
        elif kind == "subgoal.submitted" and data.get("child_run_id"):
            child = self.run(uuid.UUID(str(data["child_run_id"])))
            child.parent, child.parent_step = event.run_id, data.get("step")
            child.goal = child.goal or data.get("goal")
        elif event.step and not hidden_step(event.step):
            self._apply_step_event(run.step(event.step), event)

    @staticmethod
    def _apply_step_event(step: StepView, event: Event) -> None:
        kind, data = event.kind, event.data
        if kind == "step.started":
            step.status, step.started_at = "running", event.created_at
            tasks = data.get("tasks")
            step.total = 1 if tasks is None else int(tasks)  # a map over [] has none
        elif kind in ("step.completed", "step.failed", "step.cancelled"):
            step.status, step.finished_at = kind.split(".")[1], event.created_at
            if kind == "step.completed" and step.total is not None:
                step.done = step.total
            step.error = _error_text(data.get("error")) or step.error
        elif kind == "task.completed":
            step.done = min(step.done + 1, step.total or step.done + 1)
        elif kind == "task.failed":
            step.failed += 1
            step.error = _error_text(data.get("error")) or step.error
        elif kind in ("task.retrying", "task.timed_out", "task.lost"):
            step.retries += 1

    def add_details(self, details: RunDetails, flow_name: str | None = None,
                    counts: bool = True) -> None:
        """Fills a run from its rows. With ``counts=False`` only the names of steps
        not seen yet are added (waiting): their events are still to come."""
        row = details.run
        run = self.run(row.run_id)
        run.flow_name = flow_name or run.flow_name
        if isinstance(row.input, dict) and isinstance(row.input.get("goal"), str):
            run.goal = run.goal or row.input["goal"]
        run.parent = row.parent_run_id
        if row.parent_task_id is not None and row.parent_run_id in self.runs:
            run.parent_step = run.parent_step or self._submitting_step(row.parent_run_id,
                                                                       row.parent_task_id)
        if not counts:
            for state in details.steps:
                if not hidden_step(state.step_name):
                    run.step(state.step_name)
            return
        run.status, run.started_at = row.status.value, row.started_at
        run.finished_at = row.completed_at or row.failed_at or row.cancelled_at
        run.error = _error_text(row.error)
        for state in details.steps:
            if not hidden_step(state.step_name):
                self._fill_step(run.step(state.step_name), state, details)

    def _submitting_step(self, parent: uuid.UUID, task_id: int) -> str | None:
        return self._task_steps.get((parent, task_id))

    def _fill_step(self, step: StepView, state: StepState, details: RunDetails) -> None:
        tasks = [t for t in details.tasks if t.step_name == state.step_name]
        for task in tasks:
            self._task_steps[(details.run.run_id, task.task_id)] = state.step_name
        status = state.status.value
        step.status = {"created": "waiting", "started": "running"}.get(status, status)
        step.total = state.initial_tasks if state.started_at is not None else None
        step.done = sum(t.status == TaskStatus.COMPLETED for t in tasks)
        step.failed = sum(t.status == TaskStatus.FAILED for t in tasks)
        step.retries = sum(max(0, t.attempts_count - 1) for t in tasks)
        step.error = state.error or next((t.error for t in tasks if t.error), None)
        step.started_at = state.started_at
        step.finished_at = state.completed_at or state.failed_at or state.cancelled_at

    @classmethod
    def from_details(cls, trees: list[RunDetails],
                     flow_names: dict[uuid.UUID, str] | None = None) -> RunTreeState:
        """The model of a run tree read from the tables (parents before children)."""
        state = cls(trees[0].run.run_id)
        names = flow_names or {}
        for details in trees:
            state.add_details(details, names.get(details.run.run_id))
        return state


def _error_text(error: Any) -> str | None:
    if not error:
        return None
    if isinstance(error, dict):
        return str(error.get("message") or json.dumps(error, default=str))
    return str(error)


class ProgressPrinter:
    """Turns events into short lines, indented by subgoal depth: the view for
    pipes, files and CI (no control codes). ``width`` cuts lines to a terminal's."""

    def __init__(self, out: TextIO | None = None, width: int | None = None) -> None:
        self.out = out or sys.stdout
        self.width = width
        self.start: datetime | None = None
        self.depth: dict[uuid.UUID, int] = {}
        self.tasks: dict[tuple[uuid.UUID, str], list[int]] = {}  # [done, total]
        self.goals: dict[uuid.UUID, str] = {}

    def _line(self, event: Event, text: str) -> None:
        self.start = self.start or event.created_at
        elapsed = (event.created_at - self.start).total_seconds()
        indent = "  " * self.depth.get(event.run_id, 0) if event.run_id else ""
        line = f"[{elapsed:6.2f}s] {indent}{text}"
        print(fit(line, self.width), file=self.out, flush=True)

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
            why = _error_text(data.get("error"))
            self._line(event, f"run {short} {kind.split('.')[1]}" + (f": {why}" if why else ""))
        elif event.step and not hidden_step(event.step):
            self._step_event(event)

    def _step_event(self, event: Event) -> None:
        kind, data, step = event.kind, event.data, str(event.step)
        if kind == "step.started":
            total = int(data.get("tasks") or 0)
            self.tasks[(event.run_id, step)] = [0, total]  # type: ignore[index]
            self._line(event, f"{step}: started" + (f", {total} tasks" if total > 1 else ""))
        elif kind == "step.completed":
            self._line(event, f"{step}: completed")
        elif kind == "step.failed":
            self._line(event, f"{step}: FAILED: {data.get('error')}")
        elif kind == "task.completed" and event.run_id is not None:
            counts = self.tasks.get((event.run_id, step))
            if counts and counts[1] > 1:
                counts[0] += 1
                quarter = max(1, counts[1] // 4)
                if counts[0] % quarter == 0 and counts[0] < counts[1]:
                    self._line(event, f"{step}: {counts[0]}/{counts[1]} done")
        elif kind in ("task.retrying", "task.timed_out", "task.lost"):
            self._line(event, f"{step}[{event.task_index}]: {kind.split('.')[1]} "
                              f"(attempt {data.get('attempt')}): {data.get('error')}")


def fit(line: str, width: int | None) -> str:
    """``line`` cut to ``width`` columns with an ellipsis (None: as it is)."""
    if width is None or len(line) <= width:
        return line
    return line[:max(0, width - 1)] + "…"


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


def tree_lines(state: RunTreeState) -> list[tuple[int, RunView | StepView]]:
    """The tree in reading order with depths: a run, its steps, under each step
    the child runs it submitted (then any child run not placed yet)."""
    lines: list[tuple[int, RunView | StepView]] = []

    def visit(run: RunView, depth: int) -> None:
        lines.append((depth, run))
        for step in run.steps.values():
            lines.append((depth + 1, step))
            for child in state.children(run.run_id, step.name):
                visit(child, depth + 2)
        for child in state.children(run.run_id, None):
            visit(child, depth + 1)

    visit(state.runs[state.root], 0)
    return lines


def timeline(trees: list[RunDetails] | RunTreeState, width: int = 50,
             columns: int | None = None) -> str:
    """A text Gantt chart of the steps of a run tree, child runs under the step
    that submitted them. ``columns`` fits it to a terminal (labels cut first)."""
    state = trees if isinstance(trees, RunTreeState) else RunTreeState.from_details(trees)
    spans: list[tuple[str, datetime, datetime]] = []
    for depth, item in tree_lines(state):
        start, end = item.started_at, item.finished_at or item.started_at
        if item.status == "running" and start is not None:
            end = datetime.now(start.tzinfo)  # so far
        if start is None or end is None or (isinstance(item, RunView) and depth == 0):
            continue
        name = f"> {item.title}" if isinstance(item, RunView) else item.name
        spans.append(("  " * max(0, depth - 1) + name, start, end))
    if not spans:
        return ""
    label = max(len(n) for n, _, _ in spans)
    if columns is not None:  # "label |bar| 12345 ms": 13 columns besides the two
        width = max(8, min(width, columns - 13 - min(label, columns // 3)))
        label = max(4, min(label, columns - 13 - width))
    return "\n".join(_timeline_rows(spans, width, label))


def _timeline_rows(spans: list[tuple[str, datetime, datetime]], width: int,
                   label: int) -> Iterable[str]:
    t0 = min(s for _, s, _ in spans)
    total = max((max(e for _, _, e in spans) - t0).total_seconds(), 1e-6)
    for name, s, e in spans:
        a = min(width - 1, int((s - t0).total_seconds() / total * width))
        b = max(a + 1, int((e - t0).total_seconds() / total * width))
        yield (f"{fit(name, label):<{label}} |{' ' * a}{'#' * (b - a)}{' ' * (width - b)}| "
               f"{(e - s).total_seconds() * 1000:6.0f} ms")
    yield f"{'':<{label}}  0{'':{max(0, width - 8)}}{total:6.2f}s"


async def run_tree(engine: AsyncEngine, run_id: uuid.UUID | str) -> list[RunDetails]:
    """The run and all its descendants, parents before children."""
    found = [await engine.status(run_id)]
    frontier = [found[0].run.run_id]
    while frontier:
        children = []
        for rid in frontier:
            children += [r.run_id for r in await engine.list_runs(parent_run_id=rid,
                                                                  limit=1000)]
        for child in children:
            found.append(await engine.status(child))
        frontier = children
    return found


def summarize_output(output: Any, limit: int | None = None) -> str:
    """The output as indented JSON; with ``limit``, one line cut to that many characters."""
    if limit is None:
        return json.dumps(output, indent=2, default=str)
    return fit(json.dumps(output, default=str), limit)
