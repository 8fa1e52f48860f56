"""TaskGraph (+ options) -> a stored flow and the input of its run.

The flow holds the structure (steps, handlers, options), so the same graph
compiles to the same flow hash and is stored once; the params travel in the
run input and are resolved against dependency outputs when each task runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .core.context import TaskContext
from .core.definitions import Flow
from .core.errors import NonRetryableError
from .graph import TaskGraph, resolve
from .handlers import MAP_PREFIX, HandlerRegistry

MAP_ITEMS = "htdag.map_items"
SUBGOAL = "htdag.subgoal"
CARRIED = "htdag.carried"  # a task whose output an earlier run of the goal computed
StepOverrides = Mapping[str, Mapping[str, Any]]


def _items_step(task_id: str) -> str:
    return f"__{task_id}_items"  # task ids cannot start with "__": no clash


def build_flow(graph: TaskGraph, *, options: StepOverrides | None = None,
               name: str | None = None, carried: Mapping[str, Any] | None = None
               ) -> tuple[Flow, dict[str, Any]]:
    """Compiles a checked graph. ``options`` overrides step options per task id
    (what the optimizer learns); ``carried`` gives outputs by task id for tasks
    that are not run again (a replan's, see htdag.replan): each becomes a step
    that returns its output. Returns the flow and the run input."""
    graph.check()
    leaves = graph.leaves()
    output = graph.output or (leaves[0] if len(leaves) == 1 else None)
    flow = Flow(name or "graph", output=output)
    params: dict[str, Any] = {}
    descriptions: dict[str, str] = {}
    overrides = options or {}
    for task in graph.order():
        deps = sorted(task.dependencies())
        opts = {**task.options.model_dump(), **overrides.get(task.id, {})}
        if carried is not None and task.id in carried:
            flow.add_step(task.id, CARRIED)
            params[task.id] = {"output": carried[task.id]}
            continue
        if task.kind == "goal":
            handler = SUBGOAL
            task_params: dict[str, Any] = {
                "goal": task.params.get("goal") or task.description,
                "context": {k: v for k, v in task.params.items() if k != "goal"}}
        else:
            handler = str(task.handler)
            task_params = task.params
        if task.map_over is not None:
            items = _items_step(task.id)
            flow.add_step(items, MAP_ITEMS, depends_on=deps)
            params[items] = {"source": task.map_over, "params": task_params,
                             "param": task.map_param, "description": task.description}
            flow.add_step(task.id, MAP_PREFIX + handler, depends_on=[items], map=True, **opts)
        else:
            flow.add_step(task.id, handler, depends_on=deps, **opts)
            params[task.id] = task_params
            if task.description:
                descriptions[task.id] = task.description
    return flow, {"goal": graph.goal, "params": params, "descriptions": descriptions}


def map_items(inp: dict[str, Any], ctx: TaskContext) -> list[dict[str, Any]]:
    """The step in front of a map task: its list, each element with the params."""
    spec = inp["run"]["params"][ctx.step]
    outputs = {k: v for k, v in inp.items() if k != "run"}
    source = resolve(spec["source"], outputs)
    if not isinstance(source, list):
        raise NonRetryableError(
            f"map_over {spec['source']!r} gave {type(source).__name__}, not a list; "
            "reference a list output")
    params = resolve(spec["params"], outputs)
    description = spec.get("description", "")
    return [{"item": item, "params": params, "param": spec["param"], "description": description}
            for item in source]


def planning_handlers(registry: HandlerRegistry,
                      subgoal: Callable[..., Any]) -> dict[str, Callable[..., Any]]:
    """Every engine handler a worker needs to run graphs over ``registry``."""
    # Imported here: htdag.optimizer is not imported by ``import htdag``.
    from .optimizer.restructure import FUSED, fused_chain_handler

    return {**registry.engine_handlers(), MAP_ITEMS: map_items, SUBGOAL: subgoal,
            CARRIED: carried_output, FUSED: fused_chain_handler(registry)}


def carried_output(inp: dict[str, Any], ctx: TaskContext) -> Any:
    """A carried task's step: the output the earlier run computed."""
    return inp["run"]["params"][ctx.step]["output"]
