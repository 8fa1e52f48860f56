"""A graph of 500 tasks is summarised: one box per handler with its count, the
title saying so, and quickly; with too many handlers, one box per level."""

from __future__ import annotations

import itertools
import time
from typing import Any

from pictures_svg_reading import edges, rects, texts, title

from htdag import TaskGraph
from htdag.pictures import graph_svg


def fan_graph(tasks: int, handlers: int) -> TaskGraph:
    """search -> many fetches -> parse each -> one report."""
    spec: list[dict[str, Any]] = [{"id": "search", "handler": "search"}]
    half = (tasks - 2) // 2
    for i in range(half):
        spec.append({"id": f"fetch{i}", "handler": f"fetch{i % handlers}",
                     "depends_on": ["search"]})
        spec.append({"id": f"parse{i}", "handler": "parse", "depends_on": [f"fetch{i}"]})
    spec.append({"id": "report", "handler": "report",
                 "depends_on": [f"parse{i}" for i in range(half)]})
    return TaskGraph.parse({"goal": "a big one", "tasks": spec})


def test_500_tasks_are_summarised_by_handler() -> None:
    graph = fan_graph(500, handlers=3)
    assert len(graph.tasks) == 500
    started = time.monotonic()
    svg = graph_svg(graph)
    assert time.monotonic() - started < 10
    assert "summarised by handler: 500 nodes in 6 groups" in title(svg)
    boxes = rects(svg, "group")
    assert sorted(b.title for b in boxes) == [
        "fetch0: 83 tasks", "fetch1: 83 tasks", "fetch2: 83 tasks", "parse: 249 tasks",
        "report: 1 tasks", "search: 1 tasks"]
    assert "249 tasks" in texts(svg)
    # search -> each fetch group, each fetch group -> parse, parse -> report.
    assert len(edges(svg)) == 3 + 3 + 1
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)


def test_too_many_handlers_are_summarised_by_level() -> None:
    svg = graph_svg(fan_graph(500, handlers=300))
    assert "summarised by dependency level: 500 nodes in 4 groups" in title(svg)
    assert sorted(b.title for b in rects(svg, "group")) == [
        "level 0: 1 tasks", "level 1: 249 tasks", "level 2: 249 tasks", "level 3: 1 tasks"]


def test_the_limit_is_a_choice() -> None:
    graph = fan_graph(40, handlers=2)
    assert len(rects(graph_svg(graph), "node")) == 40
    assert "summarised" in title(graph_svg(graph, max_nodes=20))


def test_a_long_chain_of_distinct_handlers_is_summarised_by_ranges_of_levels() -> None:
    graph = TaskGraph.parse({"tasks": [
        {"id": f"t{i}", "handler": f"h{i}", "depends_on": [f"t{i - 1}"] if i else []}
        for i in range(500)]})
    svg = graph_svg(graph)
    groups = rects(svg, "group")
    assert 0 < len(groups) <= 60
    assert "summarised by dependency level: 500 nodes in 56 groups" in title(svg)
    assert groups[0].title == "levels 0-8: 9 tasks"
    assert len(edges(svg)) == len(groups) - 1
