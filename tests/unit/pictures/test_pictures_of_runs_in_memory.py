"""Run pictures and timelines from run details made in memory: colours by
status, nesting of child runs, many child runs counted, a run of many steps
summarised, and a big map step packed into a few timeline lanes."""

from __future__ import annotations

import itertools
from datetime import timedelta

from pictures_run_models import RunMaker
from pictures_svg_reading import rects, texts, title

from htdag.pictures import run_svg, timeline_svg
from htdag.pictures.runs import COLOURS, MAX_CHILDREN
from htdag.pictures.timeline import MAX_LANES


def definition(*steps: tuple[str, list[str], str]) -> dict[str, object]:
    return {"name": "flow", "steps": [{"name": n, "handler": f"h.{n}", "kind": kind,
                                       "depends_on": deps} for n, deps, kind in steps]}


def test_each_status_has_its_colour() -> None:
    run = RunMaker("running")
    for i, status in enumerate(["completed", "started", "failed", "cancelled", "created"]):
        run.step(f"s{i}", status, tasks=0 if status == "created" else 1)
    svg = run_svg(run.details())
    fills = {b.title.split(" | ")[0]: b.fill for b in rects(svg, "node")}
    assert fills == {"s0": COLOURS["completed"][0], "s1": COLOURS["started"][0],
                     "s2": COLOURS["failed"][0], "s3": COLOURS["cancelled"][0],
                     "s4": COLOURS["created"][0]}
    assert len({COLOURS[s][0] for s in ("completed", "started", "failed", "cancelled",
                                        "created")}) == 5
    assert title(svg).endswith("(running)")


def test_arrows_come_from_the_definition_and_skip_helper_steps() -> None:
    run = RunMaker()
    for name in ("search", "__summarize_items", "summarize", "report"):
        run.step(name)
    details = run.details()
    defs = {details.run.flow_hash: definition(
        ("search", [], "single"), ("__summarize_items", ["search"], "single"),
        ("summarize", ["__summarize_items"], "map"), ("report", ["summarize"], "single"))}
    svg = run_svg(details, definitions=defs)
    assert sorted(b.title.split(" | ")[0] for b in rects(svg, "node")) == [
        "report", "search", "summarize"]
    assert svg.count('class="edge"') == 2
    assert "summarize  [map]" in texts(svg)


def test_many_child_runs_of_one_task_are_counted_not_all_drawn() -> None:
    parent = RunMaker(goal="many")
    ids = parent.step("subgoals", tasks=MAX_CHILDREN + 3)
    children = []
    for i, task_id in enumerate(ids):
        child = RunMaker(parent=parent, parent_task_id=task_id, goal=f"child {i}")
        child.step("leaf")
        children.append(child.details())
    svg = run_svg(parent.details(), tree=children)
    assert len(rects(svg, "cluster")) == MAX_CHILDREN
    assert "+3 more child runs" in texts(svg)


def test_a_run_of_many_steps_is_summarised_by_handler_and_status() -> None:
    run = RunMaker("failed")
    for i in range(90):
        run.step(f"fetch{i}", "failed" if i == 5 else "completed")
    run.step("report", "cancelled", tasks=0)
    details = run.details()
    defs = {details.run.flow_hash: {"name": "big", "steps": [
        *({"name": f"fetch{i}", "handler": "fetch", "kind": "single", "depends_on": []}
          for i in range(90)),
        {"name": "report", "handler": "report", "kind": "single",
         "depends_on": [f"fetch{i}" for i in range(90)]}]}}
    svg = run_svg(details, definitions=defs)
    assert "summarised by handler: 91 nodes in 2 groups" in title(svg)
    groups = {b.title.split(":")[0]: b for b in rects(svg, "group")}
    assert groups["fetch"].fill == COLOURS["failed"][0]  # the most urgent of its steps
    assert "90 steps: 89 completed, 1 failed" in texts(svg)
    assert svg.count('class="edge"') == 1


def test_a_big_map_step_takes_a_few_lanes_with_one_bar_per_task() -> None:
    run = RunMaker()
    run.step("split", seconds=0.5)
    run.step("work", tasks=1000, start=0.5, seconds=0.2)
    run.step("join", start=1.0)
    svg = timeline_svg([run.details()])
    bars = rects(svg, "bar")
    assert len(bars) == 1002
    lanes = {b.y for b in bars if b.title.startswith("work[")}
    assert len(lanes) == MAX_LANES
    rows = sorted({b.y for b in bars})
    assert len(rows) == 1 + MAX_LANES + 1


def test_tasks_of_a_step_that_ran_one_after_another_share_one_lane() -> None:
    run = RunMaker()
    run.step("work", tasks=3, seconds=1.0)
    for i, task in enumerate(run.tasks):  # the second starts as the first ends, ...
        task["started_at"] += timedelta(seconds=i)
        task["completed_at"] += timedelta(seconds=i)
    bars = rects(timeline_svg([run.details()]), "bar")
    assert len(bars) == 3 and len({b.y for b in bars}) == 1
    for x, y in itertools.combinations(bars, 2):
        assert not x.overlaps(y)


def test_a_child_run_follows_its_parent_step_in_the_timeline() -> None:
    parent = RunMaker(goal="parent goal")
    [task_id] = parent.step("sub", seconds=3.0)
    parent.step("after", start=3.0)
    child = RunMaker(parent=parent, parent_task_id=task_id, goal="child goal")
    child.step("inner", start=0.5, seconds=2.0)
    svg = timeline_svg([parent.details(), child.details()])
    labels = [t.strip() for t in texts(svg)]
    assert labels.index("sub") < labels.index("> child goal") < labels.index("inner") \
        < labels.index("after")
    assert title(svg) == "Timeline of run " + str(parent.run_id)[:8] + ": parent goal (completed)"
    assert len(rects(svg, "run-bar")) == 1 and len(rects(svg, "bar")) == 3
