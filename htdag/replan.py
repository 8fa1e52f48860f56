"""Replanning a failed run: what the decomposer is told (the failed graph, the
error, the outputs of the tasks that completed) and which tasks of the new plan
need not run again, because the failed run completed them with the same handler,
parameters and inputs: their outputs are carried into the new run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .core.status import StepStatus
from .graph import TaskGraph, TaskSpec

if TYPE_CHECKING:  # (the read models load SQLModel: not at import htdag)
    from .core.models import RunDetails

REPLAN_KEY = "replan"  # in a decomposer's context
OUTPUT_SHOWN_CHARS = 2_000  # of each completed task's output, in the context
ERROR_SHOWN_CHARS = 4_000


def completed_outputs(graph: TaskGraph, details: RunDetails) -> dict[str, Any]:
    """The outputs of the graph's tasks that the run completed, by task id (a
    map task's output is its list)."""
    ids = {t.id for t in graph.tasks}
    return {s.step_name: s.output for s in details.steps
            if s.step_name in ids and s.status == StepStatus.COMPLETED}


def carried_outputs(previous: TaskGraph, completed: Mapping[str, Any],
                    new: TaskGraph) -> dict[str, Any]:
    """The tasks of ``new`` that need not run, with their outputs: a task the
    previous run completed, unchanged (same kind, handler, parameters, map and
    dependencies), whose dependencies are all carried too (so its inputs are
    the same)."""
    before = {t.id: t for t in previous.tasks}
    carried: dict[str, Any] = {}
    for task in new.order():
        old = before.get(task.id)
        if old is None or task.id not in completed or _what_it_does(old) != _what_it_does(task):
            continue
        if all(dep in carried for dep in task.dependencies()):
            carried[task.id] = completed[task.id]
    return carried


def replan_context(attempt: int, graph: TaskGraph, error: str,
                   completed: Mapping[str, Any]) -> dict[str, Any]:
    """What a decomposer is told about the run that failed (under ``replan`` in
    its context): plan again, keeping what worked where it can."""
    return {
        "attempt": attempt,
        "failed_graph": graph.model_dump(mode="json", exclude_defaults=True),
        "error": error[:ERROR_SHOWN_CHARS],
        "completed_outputs": {task_id: _shown(output) for task_id, output in completed.items()},
        "instruction": "the previous plan failed with this error; plan the goal again, "
                       "avoiding the failure. Tasks kept identical (id, handler, params, "
                       "dependencies) whose outputs are listed are not run again.",
    }


def _what_it_does(task: TaskSpec) -> str:
    return json.dumps(task.model_dump(mode="json", include={
        "kind", "handler", "params", "depends_on", "map_over", "map_param"}), sort_keys=True)


def _shown(output: Any) -> Any:
    text = json.dumps(output, default=str)
    return output if len(text) <= OUTPUT_SHOWN_CHARS else (
        text[:OUTPUT_SHOWN_CHARS] + f"... [{len(text)} characters in all]")
