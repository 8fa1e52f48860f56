"""Timelines of run trees: one bar per task coloured by status, the child runs
of subgoals under the task that waited for them, a time axis in seconds."""

from __future__ import annotations

import pytest

from htdag.core.engine import AsyncEngine
from htdag.pictures import atimeline, timeline_svg
from htdag.progress import run_tree

from .._support import running_worker
from ._pictures import GREEN, RED, failing_flow, fan_flow, rects, texts


async def test_one_bar_per_task(engine: AsyncEngine) -> None:
    flow = fan_flow("pictures-timeline")
    async with running_worker(engine, [flow], concurrency=4):
        run = await engine.start(flow, {"n": 9})
        await run.wait(10)
    details = await engine.status(run.run_id)
    picture = await atimeline(engine, run.run_id)
    bars = rects(picture.svg, "bar")
    assert len(bars) == len(details.tasks) == 1 + 9 + 1
    assert {b.get("fill") for b in bars} == {GREEN}
    labels = texts(picture.svg)
    assert {"split", "square", "total"} <= set(labels)
    assert "0s" in labels and any(t.endswith("s") and t != "0s" for t in labels)
    # Bars start in the order the steps ran.
    x = {b.findtext("{http://www.w3.org/2000/svg}title", "").split("[")[0]: float(b.get("x", 0))
         for b in bars}
    assert x["split"] <= x["square"] <= x["total"]


async def test_a_failed_task_is_a_red_bar(engine: AsyncEngine) -> None:
    flow = failing_flow()
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, None)
        with pytest.raises(Exception, match="broke"):
            await run.wait(10)
    svg = (await atimeline(engine, run.run_id)).svg
    fills = [b.get("fill", "") for b in rects(svg, "bar")]
    assert sorted(fills) == sorted([GREEN, RED])  # "never" never started: no bar
    never = [t for t in texts(svg) if t.startswith("never")]
    assert len(never) == 1 and "no task started" in never[0]


async def test_child_runs_follow_the_task_that_waited(engine: AsyncEngine, world: object
                                                      ) -> None:
    from htdag.composer import acompose_from_goal

    from ..planning._planning import World

    assert isinstance(world, World)
    result = await acompose_from_goal("deep x", engine=engine, decomposer=world.rules,
                                      handlers=world.registry, timeout=20)
    tree = await run_tree(engine, result.run_id)
    svg = timeline_svg(tree)
    assert len(rects(svg, "bar")) == sum(len(d.tasks) for d in tree)
    assert len(rects(svg, "run-bar")) == 2
    labels = [t.strip() for t in texts(svg)]
    # Each child run comes right after the step of the task that waited for it.
    assert labels.index("middle") < labels.index("> mid x") < labels.index("lower") \
        < labels.index("> leaf x") < labels.index("value") < labels.index("outer")
