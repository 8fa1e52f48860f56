"""A live picture: awatch (and watch, its sync form for a notebook cell) shows
the run's picture, updates it as events arrive, and returns when the run ends."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import htdag
from htdag import Flow
from htdag.core.engine import AsyncEngine
from htdag.pictures import Picture, awatch, watch

from .._support import running_worker
from ._pictures import BLUE, GREEN, fan_flow, rects


class Screen:
    """Stands in for a notebook's output: what was shown, then each update."""

    def __init__(self) -> None:
        self.shown: list[Picture] = []
        self.threads: set[int] = set()

    def show(self, picture: Picture) -> Screen:
        self.shown.append(picture)
        self.threads.add(threading.get_ident())
        return self

    def update(self, obj: Any) -> None:
        assert isinstance(obj, Picture)
        self.shown.append(obj)
        self.threads.add(threading.get_ident())


def fills(picture: Picture) -> set[str | None]:
    return {b.get("fill") for b in rects(picture.svg, "node")}


async def test_awatch_updates_until_the_run_ends(engine: AsyncEngine) -> None:
    gate = asyncio.Event()
    flow = Flow("pictures-live")

    @flow.step()
    async def slow(inp: Any) -> str:
        await gate.wait()
        return "done"

    @flow.step(depends_on=["slow"])
    def after(inp: Any) -> str:
        return "after"

    screen = Screen()
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, None)
        watching = asyncio.create_task(awatch(engine, run.run_id, interval=0.05,
                                              show=screen.show))
        while not screen.shown:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        assert not watching.done()  # the run is still going
        gate.set()
        final = await asyncio.wait_for(watching, 10)
    assert final is screen.shown[-1]
    assert fills(final) == {GREEN}
    assert len(screen.shown) >= 2
    assert BLUE in fills(screen.shown[0]) or BLUE in fills(screen.shown[1])


async def test_watch_works_inside_a_running_event_loop(sync_engine: htdag.Engine) -> None:
    # As in a notebook cell: this thread runs an event loop, the call is sync.
    flow = fan_flow("pictures-watch")
    screen = Screen()
    with sync_engine.start_worker([flow]):
        run = sync_engine.start(flow, {"n": 4})
        final = watch(sync_engine, run.run_id, interval=0.05, show=screen.show)
    assert fills(final) == {GREEN}
    assert screen.shown[-1].svg == final.svg
    assert screen.threads == {threading.get_ident()}  # displayed from the caller's thread


async def test_watching_a_finished_run_returns_at_once(engine: AsyncEngine) -> None:
    flow = fan_flow("pictures-finished")
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, {"n": 2})
        await run.wait(10)
    screen = Screen()
    final = await asyncio.wait_for(awatch(engine, run.run_id, show=screen.show), 5)
    assert fills(final) == {GREEN} and len(screen.shown) == 2
