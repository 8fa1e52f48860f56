"""Two workers: a task of a step with hedge_after that is still running after
it gets a second execution on the other worker, at once (the worker running it
announces it: the other polls only every 5 s); the fast one's result is the
task's, the slow one is cancelled, and the task completes once."""

from __future__ import annotations

import asyncio
import time

from htdag import Flow, TaskContext
from htdag.core.engine import AsyncEngine

from .._support import Db, eventually, running_worker


async def test_the_faster_execution_wins_and_the_slower_is_cancelled(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("hedged")
    calls: list[str] = []
    cancelled = asyncio.Event()

    @flow.step(map=True, hedge_after=0.2, max_attempts=1)
    async def call(item: str, ctx: TaskContext) -> str:
        calls.append(item)
        if item == "slow" and calls.count("slow") == 1:
            try:
                await asyncio.sleep(30)  # the first execution hangs
            except asyncio.CancelledError:
                cancelled.set()
                raise
        return f"{item} done"

    async with running_worker(engine, [flow], poll_interval=5.0), \
            running_worker(engine, [flow], poll_interval=5.0):
        # 40 recorded attempts: the hedge budget (5 %) allows two hedges.
        assert len((await engine.run(flow, ["fast"] * 40, timeout=20))["call"]) == 40
        started = time.monotonic()
        run = await engine.start(flow, ["slow"])
        assert await run.wait(timeout=10) == {"call": ["slow done"]}
        took = time.monotonic() - started
        await eventually(cancelled.is_set, timeout=5)

    assert took < 2
    assert calls.count("slow") == 2
    [attempt] = await db.rows("select a.hedge, a.worker_id, t.worker_id as first,"
                              " t.hedge_worker_id from htdag.attempts a"
                              " join htdag.tasks t using (task_id) where a.run_id = %s",
                              (run.run_id,))
    assert attempt["hedge"] == "won" and attempt["worker_id"] == attempt["hedge_worker_id"]
    assert attempt["first"] != attempt["hedge_worker_id"]
    assert await db.value("select count(*) from htdag.events where run_id = %s"
                          " and kind = 'task.completed'", (run.run_id,)) == 1
