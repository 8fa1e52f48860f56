"""Pictures of runs: the flow's steps coloured by status, map steps with their
progress, and each subgoal's child runs nested in the box of the task that
waits for them (so a run tree is one picture).

The state is read through the engine: ``AsyncEngine.status`` for each run of
the tree (htdag.progress.run_tree), and the stored flow definitions for the
steps' handlers and dependencies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core._portal import portal
from ..core.engine import AsyncEngine, RunId, _run_uuid
from ..core.models import RunDetails, StepState
from ..core.status import TaskStatus
from ..core.sync import Engine
from ..progress import run_tree
from ._diagram import Diagram, Node, render_svg
from ._summary import MAX_NODES, summarise
from .graphs import StepShape, group_label, shapes_of_definition, step_node, visible_edges
from .picture import Picture

# status -> (fill, stroke, text)
COLOURS: dict[str, tuple[str, str, str]] = {
    "created": ("#eaeef2", "#8c959f", "#1f2328"),
    "queued": ("#eaeef2", "#8c959f", "#1f2328"),
    "started": ("#b6e3ff", "#0969da", "#0a3069"),
    "waiting": ("#b6e3ff", "#0969da", "#0a3069"),
    "completed": ("#aceebb", "#1a7f37", "#033a16"),
    "failed": ("#ffcecb", "#cf222e", "#82071e"),
    "cancelled": ("#6e7781", "#424a53", "#ffffff"),
}
LEGEND = [("queued", COLOURS["queued"][0]), ("running", COLOURS["started"][0]),
          ("completed", COLOURS["completed"][0]), ("failed", COLOURS["failed"][0]),
          ("cancelled", COLOURS["cancelled"][0])]
MAX_CHILDREN = 4  # child runs drawn inside one task's box; the rest are counted
Definitions = Mapping[str, Mapping[str, Any]]  # flow hash -> stored definition


@dataclass(frozen=True)
class RunTree:
    """A run, its descendants (parents first) and their flows' definitions."""

    runs: list[RunDetails]
    definitions: dict[str, dict[str, Any]]


async def load_run_tree(engine: AsyncEngine, run_id: RunId) -> RunTree:
    """Reads the run tree of ``run_id`` and its flow definitions through the engine."""
    runs = await run_tree(engine, _run_uuid(run_id))
    definitions: dict[str, dict[str, Any]] = {}
    for details in runs:
        flow_hash = details.run.flow_hash
        if flow_hash not in definitions:
            row = await engine.store.flow_by_name(flow_hash)
            if row is not None:
                definitions[flow_hash] = dict(row["definition"])
    return RunTree(runs, definitions)


def run_title(details: RunDetails, definition: Mapping[str, Any] | None) -> str:
    """``Run 1a2b3c4d: <goal or flow name> (status)``, with the error of a failed run."""
    run = details.run
    goal = run.input.get("goal") if isinstance(run.input, dict) else None
    name = goal or (definition or {}).get("name") or run.flow_hash[:12]
    title = f"Run {str(run.run_id)[:8]}: {name} ({run.status.value})"
    if run.error:
        title += f": {run.error.get('message', '')}"
    return title


def _shapes(details: RunDetails, definition: Mapping[str, Any] | None) -> list[StepShape]:
    if definition is not None:
        return shapes_of_definition(definition)
    handlers = {t.step_name: t.handler for t in details.tasks}
    return [StepShape(s.step_name, handlers.get(s.step_name, "?"),
                      (s.initial_tasks or 0) > 1, ()) for s in details.steps]


def _step_lines(shape: StepShape, state: StepState | None, done: int, total: int | None
                ) -> list[str]:
    status = state.status.value if state is not None else "created"
    lines = ["subgoal" if shape.is_subgoal else shape.shown_handler, status]
    if shape.is_map and total is not None:
        lines[1] = f"{status}: {done}/{total} done"
    if state is not None and state.error:
        lines.append(state.error)
    return lines


def _step_node(shape: StepShape, details: RunDetails, children: list[Diagram],
               more: int) -> Node:
    state = next((s for s in details.steps if s.step_name == shape.name), None)
    tasks = [t for t in details.tasks if t.step_name == shape.name]
    done = sum(t.status is TaskStatus.COMPLETED for t in tasks)
    total = state.initial_tasks if state is not None else None
    node = step_node(shape)
    status = state.status.value if state is not None else "created"
    if any(t.status is TaskStatus.WAITING for t in tasks) and status == "started":
        status = "waiting"
    node.fill, node.stroke, node.text_fill = COLOURS.get(status, COLOURS["created"])
    node.status = status
    node.lines = _step_lines(shape, state, done, total)
    if more:
        node.lines.append(f"+{more} more child runs")
    if shape.is_map and total is not None:
        node.progress = (done, total)
    node.children = children
    node.css_class += f" status-{status}"
    node.tooltip = " | ".join([shape.name, *node.lines])
    return node


def run_diagram(details: RunDetails, tree: Sequence[RunDetails] = (),
                definitions: Definitions | None = None, max_nodes: int = MAX_NODES,
                nested: bool = False) -> Diagram:
    """A run as a diagram; the runs of ``tree`` whose parent is this run are
    nested (recursively, without a legend of their own) in the boxes of the
    steps whose tasks wait for them."""
    definition = (definitions or {}).get(details.run.flow_hash)
    shapes = _shapes(details, definition)
    step_of_task = {t.task_id: t.step_name for t in details.tasks}
    children: dict[str, list[RunDetails]] = {}
    for child in tree:
        if child.run.parent_run_id == details.run.run_id:
            step = step_of_task.get(child.run.parent_task_id or -1, "")
            children.setdefault(step, []).append(child)
    nodes = []
    for shape in shapes:
        if shape.hidden:
            continue
        mine = children.get(shape.name, [])
        inner = [run_diagram(c, tree, definitions, max_nodes, nested=True)
                 for c in mine[-MAX_CHILDREN:]]
        nodes.append(_step_node(shape, details, inner, max(0, len(mine) - MAX_CHILDREN)))
    diagram = Diagram(run_title(details, definition), nodes, visible_edges(shapes),
                      [] if nested else LEGEND)
    return summarise(diagram, group_label, _status_group, max_nodes)


def _status_group(key: str, label: str, members: Sequence[Node]) -> Node:
    """One box for the steps of a handler, coloured by the most urgent status."""
    counts: dict[str, int] = {}
    for member in members:
        counts[member.status] = counts.get(member.status, 0) + 1
    urgent = next((s for s in ("failed", "started", "waiting", "queued", "created",
                               "cancelled", "completed") if s in counts), "created")
    fill, stroke, text = COLOURS[urgent]
    done = counts.get("completed", 0)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return Node(key, label, [f"{len(members)} steps: {summary}"], fill=fill, stroke=stroke,
                text_fill=text, progress=(done, len(members)), status=urgent,
                css_class=f"node group status-{urgent}", tooltip=f"{label}: {summary}")


def run_svg(details: RunDetails, *, tree: Sequence[RunDetails] = (),
            definitions: Definitions | None = None, max_nodes: int = MAX_NODES) -> str:
    """SVG of a run: steps coloured by status, map progress, child runs nested.
    ``tree``: the run's descendants (as ``run_tree`` gives them, the run itself may
    be among them); ``definitions``: stored flow definitions by flow hash, for
    the handlers and the arrows (without, the steps are drawn unconnected)."""
    return render_svg(run_diagram(details, tree, definitions, max_nodes))


async def arun_picture(engine: AsyncEngine, run_id: RunId, *, max_nodes: int = MAX_NODES
                       ) -> Picture:
    """The picture of a run and its child runs, read through ``engine``."""
    loaded = await load_run_tree(engine, run_id)
    diagram = run_diagram(loaded.runs[0], loaded.runs[1:], loaded.definitions, max_nodes)
    return Picture(render_svg(diagram), diagram.title)


def run_picture(engine: Engine, run_id: RunId, *, max_nodes: int = MAX_NODES) -> Picture:
    """The sync form of :func:`arun_picture` (works inside Jupyter's running loop)."""
    return portal().call(arun_picture(engine.aio, run_id, max_nodes=max_nodes))
