"""Deterministic validation of a model's plan, never a model's opinion: size,
JSON, the plan's schema, limits, ids, the catalogue, each handler's parameter
schema, references, cycles, then TaskGraph.check as the last word. Every
problem is a sentence naming the task and field, sent back to the model as is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..core._validation import _describe, describe_validation_error
from ..core.dependencies import dependency_order
from ..core.errors import HtdagError
from ..graph import (
    GraphCycleError,
    TaskGraph,
    TaskSpec,
    _cycle_error,
    iter_references,
    parse_reference,
)
from ..handlers import HandlerRegistry
from ._plan import Plan, PlanTask, extract_json, to_graph_data

FILLED_AT_RUN_TIME = ("task_description",)  # params the engine fills when missing


@dataclass(frozen=True)
class Limits:
    max_tasks: int
    max_answer_chars: int
    depth: int  # of the goal being planned: 0 for a root goal
    max_depth: int


@dataclass
class Checked:
    graph: TaskGraph | None = None
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_answer(answer: str, goal: str, catalogue: HandlerRegistry, limits: Limits) -> Checked:
    result = Checked()
    if len(answer) > limits.max_answer_chars:
        result.errors.append(
            f"the answer is {len(answer)} characters long, over the limit of "
            f"{limits.max_answer_chars}: answer with the plan only, at most "
            f"{limits.max_tasks} short tasks")
        return result
    try:
        data, result.notes = extract_json(answer)
    except ValueError as exc:
        result.errors.append(str(exc))
        return result
    if not isinstance(data, dict):
        result.errors.append(f"the answer is a JSON {type(data).__name__}, not an object: "
                             'answer with {"tasks": [...], "output": "..."}')
        return result
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        result.errors.extend(_schema_errors(exc, data))
        return result
    result.errors.extend(_plan_errors(plan, catalogue, limits))
    if result.errors:
        return result
    try:
        result.graph = TaskGraph.parse(to_graph_data(plan, goal)).check(catalogue)
    except HtdagError as exc:
        result.errors.append(str(exc))
    return result


def _schema_errors(exc: ValidationError, data: dict[str, Any]) -> list[str]:
    listed = data.get("tasks")
    tasks: list[Any] = listed if isinstance(listed, list) else []
    found = []
    for detail in exc.errors(include_url=False):
        loc = detail["loc"]
        if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
            index = loc[1]
            task = tasks[index] if index < len(tasks) else None
            name = f"task {task.get('id')!r}" if isinstance(task, dict) and task.get("id") \
                else f"task {index + 1}"
            field_name = ".".join(str(p) for p in loc[2:]) or "the task"
            what = _describe({**detail, "loc": ()}, "")
            found.append(f"{name} (tasks[{index}]), field {field_name!r}: {what}")
        else:
            found.append(_describe(detail, "plan"))
    return found


def _plan_errors(plan: Plan, catalogue: HandlerRegistry, limits: Limits) -> list[str]:
    if not plan.tasks:
        return ['the plan has no tasks: give at least one task that calls a handler of the '
                'catalogue']
    errors: list[str] = []
    if len(plan.tasks) > limits.max_tasks:
        errors.append(f"the plan has {len(plan.tasks)} tasks, over the limit of "
                      f"{limits.max_tasks}: merge steps or leave details to fewer tasks")
    ids = [t.id for t in plan.tasks]
    for task_id in sorted({i for i in ids if ids.count(i) > 1}):
        errors.append(f"task id {task_id!r} is used by {ids.count(task_id)} tasks: give each "
                      "task a unique id")
    known = set(ids)
    for index, task in enumerate(plan.tasks):
        errors.extend(_task_errors(index, task, known, catalogue, limits))
    if not errors:
        errors.extend(_cycle_errors(plan))
    if plan.output and plan.output not in known:
        errors.append(f"output names task {plan.output!r}, which the plan does not have; "
                      f"tasks: {ids}")
    return errors


def _task_errors(index: int, task: PlanTask, known: set[str], catalogue: HandlerRegistry,
                 limits: Limits) -> list[str]:
    name = f"task {task.id!r}"
    try:
        TaskSpec.model_validate({"id": task.id})
    except ValidationError as exc:
        return [f"{name} (tasks[{index}]), field 'id': "
                + describe_validation_error(exc, root="id").removeprefix("id: ")]
    errors: list[str] = []
    if task.kind == "goal":
        if not task.description:
            errors.append(f"{name}: a subgoal (kind 'goal') needs a description: the subgoal "
                          "in words")
        if limits.depth + 1 > limits.max_depth:
            errors.append(
                f"{name} is a subgoal (kind 'goal'), which would be planned at depth "
                f"{limits.depth + 1}, deeper than the limit of {limits.max_depth}: do this "
                "part with handlers of the catalogue (kind 'task')")
    elif not task.handler:
        errors.append(f"{name}, field 'handler': missing; name a handler of the catalogue "
                      f"({', '.join(catalogue.names())}), or use kind 'goal' for a subgoal")
    elif task.handler not in catalogue:
        errors.append(f"{name}, field 'handler': {task.handler!r} is not in the catalogue; "
                      f"use one of: {', '.join(catalogue.names())}")
    else:
        errors.extend(_param_errors(name, task, catalogue))
    spec_refs = TaskSpec.model_construct(params=task.params, map_over=task.map_over or None,
                                         depends_on=task.depends_on)
    for dep in sorted(spec_refs.dependencies()):
        if dep == task.id:
            errors.append(f"{name} depends on or references itself: remove {dep!r} from its "
                          "depends_on and params")
        elif dep not in known:
            errors.append(f"{name} depends on or references {dep!r}, which the plan does not "
                          f"have; tasks: {sorted(known)}")
    if task.map_over and parse_reference(task.map_over) is None:
        errors.append(f"{name}, field 'map_over': must be a reference like \"$search\" to "
                      f"another task's output list, or empty; got {task.map_over!r}")
    return errors


def _param_errors(name: str, task: PlanTask, catalogue: HandlerRegistry) -> list[str]:
    """The handler's schema on the params whose values are known now: a value that
    holds a reference is another task's output, checked when the task runs."""
    spec = catalogue.get(task.handler)
    deferred = {k for k, v in task.params.items() if any(True for _ in iter_references(v))}
    if task.map_over:
        deferred.add("item")
    deferred.update(FILLED_AT_RUN_TIME)
    probe = {k: v for k, v in task.params.items() if k not in deferred}
    try:
        spec.params_model.model_validate(probe)
    except ValidationError as exc:
        problems = []
        for detail in exc.errors(include_url=False):
            param = str(detail["loc"][0]) if detail["loc"] else ""
            if detail["type"] == "missing" and param in deferred:
                continue
            problems.append(_one_problem(detail))
        return [f"{name}, params of handler {task.handler!r}: {p}" for p in problems]
    return []


def _one_problem(detail: ErrorDetails) -> str:
    text = _describe(detail, "params")
    param = str(detail["loc"][0]) if detail["loc"] else ""
    if detail["type"] == "extra_forbidden":
        return f"{text} (the handler has no parameter {param!r})"
    return text


def _cycle_errors(plan: Plan) -> list[str]:
    graph = {t.id: TaskSpec.model_construct(params=t.params, map_over=t.map_over or None,
                                            depends_on=t.depends_on).dependencies()
             for t in plan.tasks}
    try:
        dependency_order(graph, _cycle_error)
    except GraphCycleError as exc:
        return [str(exc)]
    return []
