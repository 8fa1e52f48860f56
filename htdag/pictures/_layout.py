"""Positions of the boxes of a DAG: grandalf's Sugiyama layout (layers top to
bottom, few crossings), pure Python. grandalf is imported when a layout is made.

grandalf's coordinates may let wide boxes of one layer touch; a last pass
pushes them apart, so no two boxes overlap whatever their sizes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from ._svg import Point

X_GAP = 28.0  # between boxes of a layer
Y_GAP = 46.0  # between layers
COMPONENT_GAP = 40.0  # between unconnected parts of the graph
ROW_WIDTH = 1100.0  # unconnected parts wrap into rows about this wide


@dataclass(frozen=True)
class Box:
    """What to place: a key and a size."""

    key: str
    width: float
    height: float


@dataclass(frozen=True)
class Placed:
    """A placed box: its top-left corner and its size."""

    key: str
    x: float
    y: float
    width: float
    height: float

    @property
    def bottom_centre(self) -> Point:
        return self.x + self.width / 2, self.y + self.height

    @property
    def top_centre(self) -> Point:
        return self.x + self.width / 2, self.y


@dataclass
class Layout:
    """Placed boxes by key, each edge's route (from the source's bottom to the
    target's top), and the size of the whole."""

    boxes: dict[str, Placed] = field(default_factory=dict)
    routes: list[tuple[str, str, list[Point]]] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


class _View:
    """grandalf's view of a vertex or an edge: a size, a centre, a path."""

    def __init__(self, width: float = 2.0, height: float = 2.0) -> None:
        self.w = width
        self.h = height
        self.xy: Point = (0.0, 0.0)
        self.path: list[Point] = []

    def setpath(self, points: list[Point]) -> None:
        self.path = list(points)


def layered_layout(boxes: Sequence[Box], edges: Sequence[tuple[str, str]]) -> Layout:
    """Places ``boxes`` in layers so that every edge points down; unconnected
    parts of the graph sit side by side, in rows."""
    from grandalf.graphs import Edge, Graph, Vertex

    vertices = {b.key: Vertex(b.key) for b in boxes}
    for box in boxes:
        vertices[box.key].view = _View(box.width, box.height)
    graph_edges = []
    for source, target in dict.fromkeys(edges):
        if source != target and source in vertices and target in vertices:
            edge = Edge(vertices[source], vertices[target])
            edge.view = _View()
            graph_edges.append(edge)
    graph = Graph(list(vertices.values()), graph_edges)
    return _shelve([_layout_component(component) for component in graph.C])


def _shelve(parts: list[Layout]) -> Layout:
    """Puts the layouts of unconnected parts side by side, in rows no wider than
    ROW_WIDTH (unless one part is wider), so many small parts stay readable."""
    whole = Layout()
    x = y = row_height = 0.0
    for part in parts:
        if x > 0 and x + part.width > ROW_WIDTH:
            x, y, row_height = 0.0, y + row_height + COMPONENT_GAP, 0.0
        for key, box in part.boxes.items():
            whole.boxes[key] = Placed(key, box.x + x, box.y + y, box.width, box.height)
        for source, target, points in part.routes:
            whole.routes.append((source, target, [(px + x, py + y) for px, py in points]))
        x += part.width + COMPONENT_GAP
        row_height = max(row_height, part.height)
    whole.width = max((p.x + p.width for p in whole.boxes.values()), default=0.0)
    whole.height = max((p.y + p.height for p in whole.boxes.values()), default=0.0)
    return whole


def _layout_component(component: Any) -> Layout:
    """Lays one connected part out, its left and top edges at 0."""
    from grandalf.layouts import SugiyamaLayout

    sugiyama = SugiyamaLayout(component)
    sugiyama.xspace, sugiyama.yspace = X_GAP, Y_GAP
    sugiyama.init_all()
    sugiyama.draw(3)
    for layer in sugiyama.layers:
        _separate(list(layer))
    vertices = list(component.sV)
    everything = [*vertices, *(v for layer in sugiyama.layers for v in layer)]
    left = min(v.view.xy[0] - v.view.w / 2 for v in everything)  # dummies of long edges too
    top = min(v.view.xy[1] - v.view.h / 2 for v in vertices)
    part = Layout()
    for v in vertices:
        cx, cy = v.view.xy
        part.boxes[v.data] = Placed(v.data, cx - left - v.view.w / 2, cy - top - v.view.h / 2,
                                    v.view.w, v.view.h)
    for edge in component.sE:
        source, target = part.boxes[edge.v[0].data], part.boxes[edge.v[1].data]
        middle = [(x - left, y - top) for x, y in _bends(sugiyama, edge)]
        part.routes.append((source.key, target.key,
                            [source.bottom_centre, *middle, target.top_centre]))
    part.width = max(p.x + p.width for p in part.boxes.values())
    part.height = max(p.y + p.height for p in part.boxes.values())
    return part


def _bends(sugiyama: Any, edge: Any) -> list[Point]:
    """The centres of the dummy vertices a long edge passes, after separation."""
    dummies = sugiyama.ctrls.get(edge)
    if not dummies:
        return []
    first, last = sugiyama.grx[edge.v[0]].rank, sugiyama.grx[edge.v[1]].rank
    ranks = range(first + 1, last) if first < last else range(first - 1, last, -1)
    return [dummies[r].view.xy for r in ranks if r in dummies]


def _separate(layer: list[Any]) -> None:
    """Moves a layer's vertices right where they would overlap their left neighbour."""
    ordered = sorted(layer, key=lambda v: v.view.xy[0])
    for left, right in pairwise(ordered):
        least = left.view.xy[0] + (left.view.w + right.view.w) / 2 + X_GAP
        if right.view.xy[0] < least:
            right.view.xy = (least, right.view.xy[1])
