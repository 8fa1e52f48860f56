"""A worker that completes a task claims the next ready one in the same round
trip, and the wake-up its own completion sends does not cost it another (an
empty claim). The first step is pushed to the idle worker by the run's start:
a chain of N steps is N exchanges."""

from __future__ import annotations

import asyncio
from typing import Any

from htdag import Flow
from htdag.core.engine import AsyncEngine

from .._support import eventually, running_worker

STEPS = 15


async def test_each_step_of_a_chain_is_one_exchange_and_none_is_empty(
        engine: AsyncEngine) -> None:
    flow = Flow("chain")

    async def link(inp: Any) -> int:
        return 0

    for i in range(STEPS):
        flow.add_step(f"s{i:02d}", link, handler_name="chain.link",
                      depends_on=[f"s{i - 1:02d}"] if i else [])
    await engine.store_flow(flow)
    calls: list[tuple[int, int]] = []  # (results reported, tasks claimed)
    exchange = engine.store.exchange

    async def counted(worker_id: Any, done: Any, failed: Any, *rest: Any, **kw: Any) -> Any:
        claimed = await exchange(worker_id, done, failed, *rest, **kw)
        calls.append((len(done) + len(failed), len(claimed)))
        return claimed

    engine.store.exchange = counted  # type: ignore[method-assign]
    # No poll during the test: every exchange is one the worker chose to make.
    async with running_worker(engine, [flow], poll_interval=30):
        await eventually(lambda: calls)
        await asyncio.sleep(0.2)  # the start-up claims are over
        calls.clear()
        await engine.run(flow, None, timeout=20)
        await asyncio.sleep(0.2)  # a late, needless wake-up would show now

    # The first step came in the push; then complete one, claim the next.
    assert calls == [(1, 1)] * (STEPS - 1) + [(1, 0)]
