"""A diagram of boxes and arrows, drawn to SVG. Graphs, flows and runs are all
turned into a :class:`Diagram` first, so one renderer draws them all.

A node may hold diagrams of its own (a subgoal's child runs): they are laid out
first and drawn inside the node's box, as a nested cluster."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._layout import Box, Layout, layered_layout
from ._svg import SvgDocument, shorten, text_width

TITLE_SIZE = 13.0
LINE_SIZE = 11.0
PAD = 10.0
LINE_HEIGHT = 15.0
BAR_HEIGHT = 7.0
MIN_WIDTH = 110.0
MARGIN = 16.0
HEADER = 26.0  # a diagram's title line


@dataclass
class Node:
    """One box: a title (the task id), smaller lines below it (handler, status),
    colours, a map marker, an optional progress bar (done, total) and nested
    diagrams (a subgoal's child runs)."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    fill: str = "#f6f8fa"
    stroke: str = "#57606a"
    text_fill: str = "#1f2328"
    dashed: bool = False
    map_marker: bool = False
    progress: tuple[int, int] | None = None
    tooltip: str = ""
    css_class: str = "node"
    status: str = ""  # a run's step status, when the picture is of a run
    children: list[Diagram] = field(default_factory=list)


@dataclass
class Diagram:
    """Nodes and the edges between them (by node key), under a title."""

    title: str
    nodes: list[Node]
    edges: list[tuple[str, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (label, colour)


@dataclass
class _Measured:
    """A diagram with its layout and size, and its nodes' nested diagrams measured."""

    diagram: Diagram
    layout: Layout
    children: dict[str, list[_Measured]]
    width: float
    height: float


def _text_lines(node: Node) -> list[str]:
    title = shorten(node.title, 36) + ("  [map]" if node.map_marker else "")
    return [title, *(shorten(line, 44) for line in node.lines)]


def _node_size(node: Node, nested: list[_Measured]) -> tuple[float, float]:
    lines = _text_lines(node)
    width = max([text_width(lines[0], TITLE_SIZE),
                 *(text_width(line, LINE_SIZE) for line in lines[1:])]) + 2 * PAD
    height = PAD + LINE_HEIGHT * len(lines) + (BAR_HEIGHT + 6 if node.progress else 0) + PAD / 2
    for child in nested:
        width = max(width, child.width + 2 * PAD)
        height += child.height + PAD
    return max(width, MIN_WIDTH), height


def measure(diagram: Diagram) -> _Measured:
    """Lays out the diagram (nested diagrams first) and computes its size."""
    children = {n.key: [measure(d) for d in n.children] for n in diagram.nodes}
    boxes = [Box(n.key, *_node_size(n, children[n.key])) for n in diagram.nodes]
    layout = layered_layout(boxes, diagram.edges)
    width = max(layout.width, text_width(diagram.title, TITLE_SIZE),
                sum(30 + text_width(label, LINE_SIZE) for label, _ in diagram.legend))
    height = layout.height + HEADER + (LINE_HEIGHT + 8 if diagram.legend else 0)
    return _Measured(diagram, layout, children, width + 2 * MARGIN, height + 2 * MARGIN)


def render_svg(diagram: Diagram) -> str:
    """The diagram as an SVG document."""
    measured = measure(diagram)
    document = SvgDocument(measured.width, measured.height, diagram.title)
    _draw(document, measured, 0.0, 0.0, outer=True)
    return document.render()


def _draw(document: SvgDocument, measured: _Measured, x0: float, y0: float,
          outer: bool = False) -> None:
    diagram, layout = measured.diagram, measured.layout
    if not outer:
        document.rect(x0, y0, measured.width, measured.height, fill="#ffffff",
                      stroke="#8c959f", dashed=True, radius=8, css_class="cluster")
    document.text(x0 + MARGIN, y0 + MARGIN + 12, shorten(diagram.title, 80), size=TITLE_SIZE,
                  bold=True, css_class="diagram-title")
    top = y0 + MARGIN + HEADER
    left = x0 + MARGIN
    for _source, _target, points in layout.routes:
        shifted = [(left + px, top + py) for px, py in points]
        document.line(shifted, css_class="edge")
    for node in diagram.nodes:
        placed = layout.boxes[node.key]
        _draw_node(document, node, measured.children[node.key], left + placed.x,
                   top + placed.y, placed.width, placed.height)
    if diagram.legend:
        _draw_legend(document, diagram.legend, left, top + layout.height + 14)


def _draw_node(document: SvgDocument, node: Node, nested: list[_Measured], x: float,
               y: float, width: float, height: float) -> None:
    document.rect(x, y, width, height, fill=node.fill, stroke=node.stroke, dashed=node.dashed,
                  css_class=node.css_class, tooltip=node.tooltip or node.title)
    lines = _text_lines(node)
    baseline = y + PAD + 11
    document.text(x + PAD, baseline, lines[0], size=TITLE_SIZE, bold=True,
                  fill=node.text_fill, css_class="node-title")
    for line in lines[1:]:
        baseline += LINE_HEIGHT
        document.text(x + PAD, baseline, line, size=LINE_SIZE, fill=node.text_fill)
    cursor = baseline + PAD / 2
    if node.progress is not None:
        done, total = node.progress
        bar_width = width - 2 * PAD
        document.rect(x + PAD, cursor, bar_width, BAR_HEIGHT, fill="#ffffff", stroke="#8c959f",
                      radius=2, stroke_width=0.8, css_class="progress-track")
        share = done / total if total else 1.0
        document.rect(x + PAD, cursor, bar_width * min(share, 1.0), BAR_HEIGHT,
                      fill="#1a7f37", radius=2, stroke_width=0, css_class="progress-done")
        cursor += BAR_HEIGHT + 6
    for child in nested:
        _draw(document, child, x + PAD, cursor + PAD / 2)
        cursor += child.height + PAD


def _draw_legend(document: SvgDocument, legend: list[tuple[str, str]], x: float,
                 y: float) -> None:
    for label, colour in legend:
        document.rect(x, y - 9, 12, 12, fill=colour, radius=2, stroke_width=0)
        document.text(x + 16, y + 1, label, size=LINE_SIZE)
        x += 16 + text_width(label, LINE_SIZE) + 14
