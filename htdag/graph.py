"""TaskGraph: what a decomposer produces and the FlowBuilder compiles.

Params may reference other tasks' outputs: the string ``"$search"`` is the
output of task ``search``, ``"$search.items"`` a field of it (``"$$x"`` is the
literal ``"$x"``). A reference implies a dependency."""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .core._json import reject_nul
from .core._validation import describe_validation_error
from .core.dependencies import dependency_order
from .core.errors import InvalidFlow, NonRetryableError
from .core.options import StepOptions

TASK_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(rf"^\$({TASK_ID})((?:\.[A-Za-z0-9_]+)*)$")


class GraphError(InvalidFlow):
    """The task graph is invalid; the message says which task and how to fix it."""


class GraphCycleError(GraphError):
    """Tasks depend on each other in a cycle."""


class DanglingReferenceError(GraphError):
    """A task depends on, or references, a task the graph does not have."""


class DuplicateTaskError(GraphError):
    """Two tasks share an id."""


class InvalidMapOverError(GraphError):
    """A task's map_over is not a reference to another task's output."""


class UnknownHandlerInGraph(GraphError):
    """A task names a handler that is not registered."""


class TaskSpec(BaseModel):
    """One task: a registered handler called with params, or (kind ``goal``) a
    subgoal decomposed when it runs."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=rf"^{TASK_ID}$", max_length=60)
    description: str = ""
    kind: Literal["task", "goal"] = "task"
    handler: str | None = None
    params: dict[str, Any] = {}
    depends_on: list[str] = []
    map_over: str | None = None
    map_param: str = "item"
    options: StepOptions = StepOptions()

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == "run" or value.startswith("__"):
            raise ValueError(f"task id {value!r} is reserved; pick another")
        return value

    def references(self) -> set[str]:
        found = {ref[0] for ref in iter_references(self.params)}
        if self.map_over is not None:
            parsed = parse_reference(self.map_over)
            if parsed is not None:
                found.add(parsed[0])
        return found

    def dependencies(self) -> set[str]:
        return set(self.depends_on) | self.references()


class TaskGraph(BaseModel):
    """A DAG of tasks for a goal. ``output`` names the task whose output is the
    graph's result (default: the only leaf, else an object of the leaves)."""

    model_config = ConfigDict(extra="forbid")
    goal: str = ""
    tasks: list[TaskSpec] = Field(min_length=1)
    output: str | None = None

    def task(self, task_id: str) -> TaskSpec:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

    def leaves(self) -> list[str]:
        used = {d for t in self.tasks for d in t.dependencies()}
        return [t.id for t in self.tasks if t.id not in used]

    def check(self, handlers: Container[str] | None = None) -> TaskGraph:
        """Validates the graph; with a handler catalogue, also that every handler
        is registered. Returns the graph, so ``TaskGraph(...).check()`` chains."""
        reject_nul(self.model_dump(mode="json"), "the task graph")
        ids = [t.id for t in self.tasks]
        seen: set[str] = set()
        for task_id in ids:
            if task_id in seen:
                raise DuplicateTaskError(f"two tasks have id {task_id!r}; give each a unique id")
            seen.add(task_id)
        for t in self.tasks:
            self._check_task(t, seen, handlers)
        self.order()
        if self.output is not None and self.output not in seen:
            raise DanglingReferenceError(f"output names task {self.output!r}, which the graph "
                                         f"does not have; tasks: {ids}")
        return self

    def order(self) -> list[TaskSpec]:
        """The tasks, each after the tasks it depends on (see dependency_order).
        Dependencies must name tasks of the graph: check() says which do not."""
        tasks = {t.id: t for t in self.tasks}
        order = dependency_order({t.id: t.dependencies() for t in self.tasks}, _cycle_error)
        return [tasks[task_id] for task_id in order]

    def _check_task(self, t: TaskSpec, ids: set[str], handlers: Container[str] | None
                    ) -> None:
        if t.kind == "task" and not t.handler:
            raise GraphError(f"task {t.id!r} needs a handler (or kind 'goal' for a subgoal)")
        if t.kind == "goal" and not (t.description or t.params.get("goal")):
            raise GraphError(f"goal task {t.id!r} needs a description (the subgoal in words)")
        if handlers is not None and t.kind == "task" and t.handler not in handlers:
            raise UnknownHandlerInGraph(
                f"task {t.id!r} calls handler {t.handler!r}, which is not registered; "
                f"registered: {sorted(handlers) if isinstance(handlers, Iterable) else '?'}")
        for dep in t.dependencies():
            if dep == t.id:
                raise GraphCycleError(f"task {t.id!r} depends on itself")
            if dep not in ids:
                raise DanglingReferenceError(
                    f"task {t.id!r} depends on or references {dep!r}, which the graph does "
                    f"not have; tasks: {sorted(ids)}")
        if t.map_over is not None:
            if t.kind == "goal":
                raise InvalidMapOverError(
                    f"goal task {t.id!r} cannot map_over; make a task that maps and submits "
                    "subgoals itself")
            if parse_reference(t.map_over) is None:
                raise InvalidMapOverError(
                    f"task {t.id!r}: map_over must reference another task's output, like "
                    f"'$search' or '$search.items', got {t.map_over!r}")
            if t.map_param in t.params:
                raise InvalidMapOverError(
                    f"task {t.id!r}: param {t.map_param!r} is filled by map_over; rename one "
                    "(map_param chooses the name)")

    def _repr_svg_(self) -> str:
        """The graph as a picture, for Jupyter (htdag.pictures, imported here)."""
        from .pictures.graphs import graph_svg

        return graph_svg(self)

    @classmethod
    def parse(cls, data: str | bytes | Mapping[str, Any]) -> TaskGraph:
        """From JSON text or a dict, with one clear error listing every problem."""
        try:
            if isinstance(data, str | bytes):
                return cls.model_validate_json(data)
            return cls.model_validate(data)
        except ValidationError as exc:
            raise GraphError("task graph is invalid: "
                             + describe_validation_error(exc, root="graph")) from None


def _cycle_error(cycle: list[str]) -> GraphCycleError:
    return GraphCycleError("tasks depend on each other in a cycle: " + " -> ".join(cycle)
                           + "; remove one of these dependencies")


def parse_reference(value: Any) -> tuple[str, list[str]] | None:
    """``"$task.a.b"`` -> ("task", ["a", "b"]); anything else -> None."""
    if not isinstance(value, str):
        return None
    match = _REFERENCE.match(value)
    if match is None:
        return None
    path = [p for p in match[2].split(".") if p]
    return match[1], path


def iter_references(value: Any) -> Iterator[tuple[str, list[str]]]:
    if isinstance(value, str):
        parsed = parse_reference(value)
        if parsed is not None:
            yield parsed
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from iter_references(v)
    elif isinstance(value, list):
        for v in value:
            yield from iter_references(v)


class UnresolvedReferenceError(NonRetryableError, LookupError):
    """A reference points at a field the referenced output does not have. Outputs
    do not change on a retry, so the task fails at once."""


def resolve(value: Any, outputs: Mapping[str, Any]) -> Any:
    """Replaces references in params with the referenced outputs."""
    if isinstance(value, str):
        if value.startswith("$$"):
            return value[1:]
        parsed = parse_reference(value)
        if parsed is None:
            return value
        task_id, path = parsed
        if task_id not in outputs:
            raise UnresolvedReferenceError(
                f"reference {value!r}: no output of task {task_id!r} here")
        current = outputs[task_id]
        for part in path:
            if isinstance(current, Mapping) and part in current:
                current = current[part]
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                raise UnresolvedReferenceError(
                    f"reference {value!r}: the output of {task_id!r} has no {part!r} "
                    f"(it is {type(current).__name__})")
        return current
    if isinstance(value, Mapping):
        return {k: resolve(v, outputs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, outputs) for v in value]
    return value
