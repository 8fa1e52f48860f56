"""Several workers on one database share the work: every task is completed
exactly once, with one attempt each."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any

from htdag import Flow
from htdag.core.engine import AsyncEngine

from .._support import Db, eventually, running_worker


async def test_three_workers_on_50_runs_complete_each_task_exactly_once(
        engine: AsyncEngine, db: Db, dsn: str) -> None:
    flow = Flow("shared")
    calls: collections.Counter[tuple[str, str, int]] = collections.Counter()

    @flow.step(map=True)
    async def part(x: int) -> int:
        await asyncio.sleep(0.002)
        return x * 2

    @flow.step(depends_on=["part"])
    def total(inp: Any) -> int:
        return sum(inp["part"])

    def counted(step: str, fn: Any) -> Any:
        if asyncio.iscoroutinefunction(fn):
            async def async_wrapper(inp: Any, ctx: Any) -> Any:
                calls[str(ctx.run_id), step, ctx.task_index] += 1
                return await fn(inp)
            return async_wrapper

        def wrapper(inp: Any, ctx: Any) -> Any:
            calls[str(ctx.run_id), step, ctx.task_index] += 1
            return fn(inp)
        return wrapper

    handlers = {name: counted(name.split(".")[1], fn) for name, fn in flow.handlers.items()}
    engines = [engine] + [await AsyncEngine.connect(dsn, pool_size=4) for _ in range(2)]
    try:
        async with contextlib.AsyncExitStack() as stack:
            workers = [await stack.enter_async_context(
                running_worker(e, handlers, concurrency=4)) for e in engines]
            await eventually(lambda: db.value("select count(*) = 3 from htdag.workers"))

            runs = await asyncio.gather(*(engine.start(flow, list(range(n % 7)))
                                          for n in range(50)))
            outputs = await asyncio.gather(*(r.wait(timeout=60) for r in runs))
    finally:
        for e in engines[1:]:
            await e.close()

    assert outputs == [{"total": sum(x * 2 for x in range(n % 7))} for n in range(50)]
    task_count = await db.value("select count(*) from htdag.tasks")
    assert task_count == 50 + sum(n % 7 for n in range(50))
    assert set(calls.values()) == {1}
    assert len(calls) == task_count
    assert await db.value("select count(*) from htdag.tasks"
                          " where status = 'completed' and attempts_count = 1") == task_count
    attempts = await db.rows("select task_id, attempt, outcome, worker_id from htdag.attempts")
    assert len(attempts) == task_count
    assert {(a["attempt"], a["outcome"]) for a in attempts} == {(1, "completed")}
    assert len({a["task_id"] for a in attempts}) == task_count
    assert sum(w.tasks_completed for w in workers) == task_count
    assert len({a["worker_id"] for a in attempts}) >= 2
