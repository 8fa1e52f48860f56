"""Large diagrams, summarised: above a number of nodes, one box per group
(handler, say) with its count, so a graph of 500 tasks stays readable. If the
groups are still too many, one box per dependency level."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ._diagram import Diagram, Node

MAX_NODES = 60  # above this, a diagram is summarised

GroupNode = Callable[[str, str, Sequence[Node]], Node]  # (key, label, members) -> box


def levels(keys: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each node's dependency level: 0 without dependencies, else one more than
    its deepest dependency (``keys`` in dependency order)."""
    parents: dict[str, list[str]] = {k: [] for k in keys}
    for source, target in edges:
        if target in parents and source in parents:
            parents[target].append(source)
    level: dict[str, int] = {}
    for key in keys:
        level[key] = 1 + max((level.get(p, 0) for p in parents[key]), default=-1)
    return level


def summarise(diagram: Diagram, group_of: Callable[[Node], str], make_group: GroupNode,
              limit: int = MAX_NODES) -> Diagram:
    """The diagram itself when it has at most ``limit`` nodes; else one node per
    group (by ``group_of``, else by level), with edges between groups that keep
    the order of the nodes, and the title saying it is summarised."""
    if len(diagram.nodes) <= limit:
        return diagram
    keys = [n.key for n in diagram.nodes]
    level = levels(keys, diagram.edges)
    labels = {n.key: group_of(n) for n in diagram.nodes}
    how = "by handler"
    if len(set(labels.values())) > limit:
        labels = _level_labels(level, limit)
        how = "by dependency level"
    groups: dict[str, list[Node]] = {}
    for node in diagram.nodes:
        groups.setdefault(labels[node.key], []).append(node)
    # A group's rank is its earliest member's level; edges only go to a later rank,
    # so the summary is a DAG even when two groups feed each other.
    rank = {label: min(level[n.key] for n in members) for label, members in groups.items()}
    names = {label: f"group{i}" for i, label in enumerate(groups)}
    edges = sorted({(names[labels[s]], names[labels[t]]) for s, t in diagram.edges
                    if rank[labels[s]] < rank[labels[t]]})
    nodes = [make_group(names[label], label, members) for label, members in groups.items()]
    title = (f"{diagram.title} (summarised {how}: {len(diagram.nodes)} nodes in "
             f"{len(nodes)} groups)")
    return Diagram(title, nodes, edges, diagram.legend)


def _level_labels(level: dict[str, int], limit: int) -> dict[str, str]:
    """Each node's level as a label; levels in ranges when there are more than
    ``limit`` of them (a long chain), so there are at most ``limit`` groups."""
    width = -(-(max(level.values(), default=0) + 1) // limit)  # levels per group
    if width == 1:
        return {k: f"level {v}" for k, v in level.items()}
    return {k: f"levels {v // width * width}-{v // width * width + width - 1}"
            for k, v in level.items()}
