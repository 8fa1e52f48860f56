"""Pictures of task graphs and flows: well-formed SVG with one box per task and
one arrow per dependency, boxes that never overlap, subgoals and map tasks marked,
every piece of text escaped, and nothing fetched from the network."""

from __future__ import annotations

import itertools

import pytest
from pictures_svg_reading import edges, parse, rects, texts, title

from htdag import Flow, TaskGraph
from htdag.flow_builder import build_flow
from htdag.pictures import flow_svg, graph_svg


def research_graph(goal: str = "research postgres") -> TaskGraph:
    return TaskGraph.parse({"goal": goal, "tasks": [
        {"id": "search", "handler": "search", "params": {"topic": "postgres"}},
        {"id": "summarize", "handler": "summarize", "map_over": "$search"},
        {"id": "background", "kind": "goal", "description": "research mysql"},
        {"id": "report", "handler": "combine",
         "params": {"parts": "$summarize", "context": "$background"}},
    ]})


def test_every_task_is_a_box_and_every_dependency_an_arrow() -> None:
    svg = graph_svg(research_graph())
    boxes = rects(svg, "node")
    assert sorted(b.title.split(":")[0] for b in boxes) == [
        "background", "report", "search", "summarize"]
    assert len(edges(svg)) == 3  # search->summarize, summarize->report, background->report
    assert title(svg) == "Task graph: research postgres"


def test_arrows_point_down_from_a_dependency_to_its_dependent() -> None:
    svg = graph_svg(research_graph())
    boxes = {b.title.split(":")[0]: b for b in rects(svg, "node")}
    assert boxes["search"].y + boxes["search"].height < boxes["summarize"].y
    assert boxes["summarize"].y + boxes["summarize"].height < boxes["report"].y
    for points in edges(svg):
        assert points[0][1] < points[-1][1]


def test_boxes_do_not_overlap_even_when_wide() -> None:
    tasks = [{"id": "root", "handler": "start"}] + [
        {"id": f"a_rather_long_task_name_number_{i}", "handler": f"handler_with_long_name_{i}",
         "depends_on": ["root"]} for i in range(12)]
    svg = graph_svg(TaskGraph.parse({"tasks": tasks}))
    boxes = rects(svg, "node")
    assert len(boxes) == 13
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)


def test_unconnected_tasks_sit_side_by_side_in_rows() -> None:
    svg = graph_svg(TaskGraph.parse({"tasks": [
        {"id": f"alone{i}", "handler": "leaf"} for i in range(30)]}))
    boxes = rects(svg, "node")
    assert len(boxes) == 30 and edges(svg) == []
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)
    assert len({b.y for b in boxes}) > 1  # wrapped, not one very long row
    assert max(b.x + b.width for b in boxes) < 1300


def test_subgoals_are_dashed_and_map_tasks_marked() -> None:
    svg = graph_svg(research_graph())
    [goal] = [b for b in rects(svg, "node") if "goal" in b.classes]
    assert goal.title.startswith("background")
    goal_el = next(el for el in parse(svg).iter("{http://www.w3.org/2000/svg}rect")
                   if "goal" in el.get("class", "").split())
    assert goal_el.get("stroke-dasharray")
    assert "summarize  [map]" in texts(svg)
    assert "search  [map]" not in texts(svg)


def test_text_is_escaped() -> None:
    goal = 'research <script>alert("x")</script> & friends'
    graph = TaskGraph.parse({"goal": goal, "tasks": [
        {"id": "t", "handler": "h", "description": "a < b & c > d"}]})
    svg = graph_svg(graph)
    assert "<script" not in svg
    assert title(svg) == f"Task graph: {goal}"  # the parser gives the text back intact
    assert "a < b & c > d" in texts(svg)


def test_nothing_is_fetched_and_nothing_runs() -> None:
    svg = graph_svg(research_graph())
    assert "http://" not in svg.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in svg and "<script" not in svg and "@import" not in svg


def test_a_flow_built_from_a_graph_hides_its_helper_steps() -> None:
    flow, _ = build_flow(research_graph())
    assert any(s.name.startswith("__") for s in flow.steps)
    svg = flow_svg(flow)
    names = sorted(b.title for b in rects(svg, "node"))
    assert names == ["background", "report", "search", "summarize"]
    # The arrow into the map step goes through its hidden items step.
    assert len(edges(svg)) == 3
    assert "summarize  [map]" in texts(svg)
    assert [b.title for b in rects(svg, "goal")] == ["background"]


def test_a_flow_and_a_graph_display_themselves_in_jupyter() -> None:
    flow = Flow("squares")

    @flow.step(map=True)
    def square(x: int) -> int:
        return x * x

    @flow.step(depends_on=["square"])
    def total(square: list[int]) -> int:
        return sum(square)

    svg = flow._repr_svg_()
    assert sorted(b.title for b in rects(svg, "node")) == ["square", "total"]
    assert title(svg) == "Flow: squares"
    assert len(edges(research_graph()._repr_svg_())) == 3


@pytest.mark.parametrize("tasks", [1, 25])
def test_a_chain_is_one_column(tasks: int) -> None:
    graph = TaskGraph.parse({"tasks": [
        {"id": f"t{i}", "handler": "h", "depends_on": [f"t{i - 1}"] if i else []}
        for i in range(tasks)]})
    boxes = rects(graph_svg(graph), "node")
    assert len(boxes) == tasks
    assert len({b.x for b in boxes}) == 1
    assert sorted(b.y for b in boxes) == [b.y for b in boxes] or len(boxes) == 1
