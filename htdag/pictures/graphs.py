"""Pictures of what will run: a TaskGraph (tasks and subgoals) and a Flow (steps).

Tasks and steps are boxes with their id, handler and a map marker; subgoal
tasks (kind ``goal``) are dashed and violet. The helper steps the FlowBuilder
adds in front of map tasks (``__x_items``) are left out: the arrows go through
them. Above 60 boxes, a picture is summarised per handler."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.definitions import Flow
from ..flow_builder import SUBGOAL
from ..graph import TaskGraph
from ..handlers import MAP_PREFIX
from ._diagram import Diagram, Node, render_svg
from ._summary import MAX_NODES, summarise
from .picture import Picture

TASK_FILL, TASK_STROKE = "#f6f8fa", "#57606a"
GOAL_FILL, GOAL_STROKE = "#fbefff", "#8250df"


@dataclass(frozen=True)
class StepShape:
    """A step as a picture needs it: from a Flow or from a stored definition."""

    name: str
    handler: str
    is_map: bool
    depends_on: tuple[str, ...]

    @property
    def hidden(self) -> bool:
        """A helper step of the FlowBuilder (``__x_items``), not a task of the graph."""
        return self.name.startswith("__")

    @property
    def is_subgoal(self) -> bool:
        return self.shown_handler == SUBGOAL

    @property
    def shown_handler(self) -> str:
        return self.handler.removeprefix(MAP_PREFIX)


def shapes_of_flow(flow: Flow) -> list[StepShape]:
    return [StepShape(s.name, s.handler, s.map, tuple(s.depends_on)) for s in flow.steps]


def shapes_of_definition(definition: Mapping[str, Any]) -> list[StepShape]:
    """The steps of a stored flow definition (the JSON in htdag.flows)."""
    return [StepShape(str(s["name"]), str(s["handler"]), s.get("kind") == "map",
                      tuple(s.get("depends_on", ()))) for s in definition.get("steps", [])]


def visible_edges(shapes: Sequence[StepShape]) -> list[tuple[str, str]]:
    """Edges between shown steps, through the hidden ones between them."""
    by_name = {s.name: s for s in shapes}

    def shown_sources(name: str, seen: frozenset[str] = frozenset()) -> Iterable[str]:
        step = by_name.get(name)
        if step is None or name in seen:
            return
        if not step.hidden:
            yield name
            return
        for dep in step.depends_on:
            yield from shown_sources(dep, seen | {name})

    edges: list[tuple[str, str]] = []
    for step in shapes:
        if step.hidden:
            continue
        for dep in step.depends_on:
            edges += [(source, step.name) for source in shown_sources(dep)]
    return list(dict.fromkeys(edges))


def step_node(step: StepShape) -> Node:
    """A step's box, before any run state colours it."""
    if step.is_subgoal:
        return Node(step.name, step.name, ["subgoal"], fill=GOAL_FILL, stroke=GOAL_STROKE,
                    dashed=True, map_marker=step.is_map, css_class="node goal")
    return Node(step.name, step.name, [step.shown_handler], map_marker=step.is_map)


def group_label(node: Node) -> str:
    """The group of a box in a summary: its handler, or 'subgoal'."""
    return node.lines[0] if node.lines else node.title


def group_node(key: str, label: str, members: Sequence[Node]) -> Node:
    """One box for a group of tasks or steps with the same handler."""
    goal = any("goal" in m.css_class for m in members)
    maps = sum(m.map_marker for m in members)
    lines = [f"{len(members)} tasks" + (f", {maps} map" if maps else ""),
             ", ".join(m.title for m in members[:3]) + (", ..." if len(members) > 3 else "")]
    return Node(key, label, lines, fill=GOAL_FILL if goal else TASK_FILL,
                stroke=GOAL_STROKE if goal else TASK_STROKE, dashed=goal,
                tooltip=f"{label}: {len(members)} tasks", css_class="node group")


def graph_diagram(graph: TaskGraph, max_nodes: int = MAX_NODES) -> Diagram:
    """A TaskGraph as a diagram (summarised above ``max_nodes`` tasks)."""
    nodes = []
    for task in graph.tasks:
        if task.kind == "goal":
            goal = str(task.params.get("goal") or task.description)
            nodes.append(Node(task.id, task.id, ["subgoal", goal], fill=GOAL_FILL,
                              stroke=GOAL_STROKE, dashed=True, css_class="node goal",
                              tooltip=f"{task.id}: subgoal {goal!r}"))
        else:
            lines = [str(task.handler)] + ([task.description] if task.description else [])
            nodes.append(Node(task.id, task.id, lines, map_marker=task.map_over is not None,
                              tooltip=f"{task.id}: {task.handler}"))
    order = [t.id for t in graph.order()] if _ordered(graph) else [t.id for t in graph.tasks]
    position = {key: i for i, key in enumerate(order)}
    nodes.sort(key=lambda n: position[n.key])
    ids = set(position)
    edges = [(dep, t.id) for t in graph.tasks for dep in sorted(t.dependencies()) if dep in ids]
    title = f"Task graph: {graph.goal}" if graph.goal else "Task graph"
    return summarise(Diagram(title, nodes, edges), group_label, group_node, max_nodes)


def _ordered(graph: TaskGraph) -> bool:
    """Whether the graph can be put in dependency order (a picture of an invalid
    graph is still drawn, in the order given)."""
    try:
        graph.order()
    except (KeyError, ValueError):
        return False
    return True


def flow_diagram(flow: Flow, max_nodes: int = MAX_NODES) -> Diagram:
    """A Flow as a diagram (summarised above ``max_nodes`` steps)."""
    shapes = shapes_of_flow(flow)
    nodes = [step_node(s) for s in shapes if not s.hidden]
    diagram = Diagram(f"Flow: {flow.name}", nodes, visible_edges(shapes))
    return summarise(diagram, group_label, group_node, max_nodes)


def graph_svg(graph: TaskGraph, *, max_nodes: int = MAX_NODES) -> str:
    """SVG of a task graph: tasks as boxes, dependencies as arrows."""
    return render_svg(graph_diagram(graph, max_nodes))


def flow_svg(flow: Flow, *, max_nodes: int = MAX_NODES) -> str:
    """SVG of a flow: steps as boxes, dependencies as arrows."""
    return render_svg(flow_diagram(flow, max_nodes))


def graph_picture(graph: TaskGraph, *, max_nodes: int = MAX_NODES) -> Picture:
    diagram = graph_diagram(graph, max_nodes)
    return Picture(render_svg(diagram), diagram.title)


def flow_picture(flow: Flow, *, max_nodes: int = MAX_NODES) -> Picture:
    diagram = flow_diagram(flow, max_nodes)
    return Picture(render_svg(diagram), diagram.title)
