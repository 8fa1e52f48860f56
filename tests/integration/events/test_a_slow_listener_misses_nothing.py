"""A listener that falls behind (more events pending than max_pending) stops
being queued for and re-reads what it missed from the table: it still gets
every event, in order, once; and it holds back neither the engine nor others."""

from __future__ import annotations

import asyncio
from typing import Any

from htdag import Flow
from htdag.core.engine import AsyncEngine
from htdag.notifications import alisten
from htdag.notifications.hub import hub_for

from .._event_support import table_ids
from .._support import Db, eventually, running_worker
from ._listening import collect, ids


def burst_flow() -> tuple[Flow, asyncio.Event]:
    flow = Flow("burst")
    gate = asyncio.Event()

    @flow.step()
    async def opening(inp: Any) -> list[int]:
        await gate.wait()
        return list(range(40))

    @flow.step(depends_on=["opening"], map=True)
    def piece(x: int) -> int:
        return x

    return flow, gate


async def test_a_listener_that_overflows_still_gets_every_event_in_order(
        engine: AsyncEngine, db: Db) -> None:
    flow, gate = burst_flow()
    run = await engine.start(flow, None)
    slow = alisten(engine, run.run_id, since=0, until_done=True, max_pending=5)
    prompt = asyncio.create_task(collect(alisten(engine, run.run_id, since=0, until_done=True)))
    first = await asyncio.wait_for(anext(slow), 5)  # subscribed; then it stops reading
    [sub] = [s for s in hub_for(engine)._subscribers if s.max_pending == 5]

    async with running_worker(engine, [flow]):
        gate.set()
        await run.wait(10)
        everything = await prompt  # the other listener is not held back
        await eventually(lambda: sub.overflowed)
        assert sub.queue.qsize() == 5
        rest = await collect(slow, timeout=10)

    got = [first, *rest]
    table = await table_ids(db, run.run_id)
    assert ids(got) == table == ids(everything)
    assert len(table) > 80


async def test_a_listener_that_overflows_again_and_again_misses_nothing(
        engine: AsyncEngine, db: Db) -> None:
    flow, gate = burst_flow()
    run = await engine.start(flow, None)
    got = []

    async def dawdle() -> None:
        async for event in alisten(engine, run.run_id, since=0, until_done=True, max_pending=2):
            got.append(event)
            await asyncio.sleep(0.005)

    slow = asyncio.create_task(dawdle())
    async with running_worker(engine, [flow]):
        gate.set()
        await run.wait(10)
        await asyncio.wait_for(slow, 10)

    assert ids(got) == await table_ids(db, run.run_id)
