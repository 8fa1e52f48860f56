"""Pictures of runs on a real database: a completed run is green, a failed run
shows its failed step in red, a running map step shows its progress, a subgoal's
child runs are nested in the box of the task that waited for them."""

from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ET

import pytest

from htdag.core.engine import AsyncEngine
from htdag.errors import UnknownRunError
from htdag.pictures import arun_picture, run_svg
from htdag.progress import run_tree

from .._support import eventually, running_worker
from ._pictures import (
    BLUE,
    GREEN,
    RED,
    failing_flow,
    fan_flow,
    gated_map_flow,
    rects,
    texts,
    titles,
)


async def test_a_completed_run_is_green_with_its_map_done(engine: AsyncEngine) -> None:
    flow = fan_flow()
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, {"n": 5})
        assert await run.wait(10) == {"total": sum(i * i for i in range(5))}
    picture = await arun_picture(engine, run.run_id)
    boxes = rects(picture.svg, "node")
    assert sorted(t.split(" | ")[0] for t in titles(boxes)) == ["split", "square", "total"]
    assert {b.get("fill") for b in boxes} == {GREEN}
    assert "completed: 5/5 done" in texts(picture.svg)
    assert "square  [map]" in texts(picture.svg)
    assert picture.title.endswith("(completed)")
    [track], [done] = rects(picture.svg, "progress-track"), rects(picture.svg, "progress-done")
    assert float(done.get("width", 0)) == pytest.approx(float(track.get("width", 0)), abs=0.1)


async def test_a_failed_run_shows_the_failed_step_in_red(engine: AsyncEngine) -> None:
    flow = failing_flow()
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, None)
        with pytest.raises(Exception, match="broke"):
            await run.wait(10)
    picture = await arun_picture(engine, run.run_id)
    fills = {t.split(" | ")[0]: b.get("fill") for t, b in
             zip(titles(rects(picture.svg, "node")), rects(picture.svg, "node"), strict=True)}
    assert fills["first"] == GREEN and fills["broken"] == RED
    assert fills["never"] not in (GREEN, RED)
    assert "failed" in picture.title and "the broken step broke" in picture.title
    assert any("the broken step broke" in t for t in texts(picture.svg))


async def test_a_running_map_step_shows_its_progress(engine: AsyncEngine) -> None:
    gate = asyncio.Event()
    flow = gated_map_flow(gate, open_below=7)
    async with running_worker(engine, [flow], concurrency=12):
        run = await engine.start(flow, list(range(10)))

        async def seven_done() -> bool:
            details = await engine.status(run.run_id)
            return sum(t.status.value == "completed" for t in details.tasks) == 7

        await eventually(seven_done, timeout=10)
        picture = await arun_picture(engine, run.run_id)
        gate.set()
        await run.wait(10)
    [box] = rects(picture.svg, "node")
    assert box.get("fill") == BLUE
    assert "started: 7/10 done" in texts(picture.svg)
    [track], [done] = rects(picture.svg, "progress-track"), rects(picture.svg, "progress-done")
    assert float(done.get("width", 0)) == pytest.approx(0.7 * float(track.get("width", 0)), abs=0.1)


async def test_run_svg_draws_the_details_it_is_given(engine: AsyncEngine) -> None:
    flow = fan_flow()
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, {"n": 2})
        await run.wait(10)
    details = await engine.status(run.run_id)
    # Without the flow's definition the steps are drawn, unconnected.
    svg = run_svg(details)
    assert len(rects(svg, "node")) == 3 and 'class="edge"' not in svg
    definitions = {details.run.flow_hash: flow.to_definition()}
    assert svg.count("<polyline") < run_svg(details, definitions=definitions).count("<polyline")


async def test_an_unknown_run_is_a_clear_error(engine: AsyncEngine) -> None:
    missing = uuid.uuid4()
    with pytest.raises(UnknownRunError, match=str(missing)):
        await arun_picture(engine, missing)
    with pytest.raises(UnknownRunError, match="not a run id"):
        await arun_picture(engine, "not-a-run")


async def test_a_subgoal_child_run_is_nested_in_its_task(engine: AsyncEngine, world: object
                                                         ) -> None:
    from htdag.composer import acompose_from_goal

    from ..planning._planning import World

    assert isinstance(world, World)
    result = await acompose_from_goal("deep x", engine=engine, decomposer=world.rules,
                                      handlers=world.registry, timeout=20)
    picture = await arun_picture(engine, result.run_id)
    clusters = rects(picture.svg, "cluster")
    assert len(clusters) == 2  # the child run (mid x) and the grandchild (leaf x)
    headings = [t for t in texts(picture.svg) if t.startswith("Run ")]
    assert [h.split(": ", 1)[1] for h in headings] == [
        "deep x (completed)", "mid x (completed)", "leaf x (completed)"]
    # The child's cluster lies inside the box of the task that waited for it.
    boxes = dict(zip((t.split(" | ")[0] for t in titles(rects(picture.svg, "node"))),
                     rects(picture.svg, "node"), strict=True))
    middle, child = boxes["middle"], clusters[0]
    assert "goal" in middle.get("class", "")

    def inside(inner: ET.Element, outer: ET.Element) -> bool:
        i = {k: float(inner.get(k, 0)) for k in ("x", "y", "width", "height")}
        o = {k: float(outer.get(k, 0)) for k in ("x", "y", "width", "height")}
        return (o["x"] <= i["x"] and i["x"] + i["width"] <= o["x"] + o["width"]
                and o["y"] <= i["y"] and i["y"] + i["height"] <= o["y"] + o["height"])

    assert inside(child, middle)
    assert inside(clusters[1], child)
    assert len(await run_tree(engine, result.run_id)) == 3
