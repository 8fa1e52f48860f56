"""A stopping worker claims nothing more, lets running tasks finish within
shutdown_timeout, and releases the rest so another worker can take them."""

from __future__ import annotations

import asyncio
from typing import Any

from htdag import Flow, TaskContext
from htdag.core.engine import AsyncEngine

from .._support import Db, eventually, running_worker


async def test_shutdown_releases_tasks_still_running_after_the_shutdown_timeout(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("stuck")
    entered = asyncio.Event()
    started: list[tuple[int, int]] = []

    @flow.step(map=True)
    async def stuck(x: int, ctx: TaskContext) -> int:
        started.append((x, ctx.attempt))
        if len(started) >= 2:
            entered.set()
        if ctx.attempt == 1 and len(started) <= 2:
            await asyncio.sleep(60)
        return x

    worker = engine.worker([flow], concurrency=2, poll_interval=0.05, shutdown_timeout=0.2)
    job = asyncio.create_task(worker.run())
    run = await engine.start(flow, [1, 2])
    await asyncio.wait_for(entered.wait(), 5)

    worker.stop()
    await asyncio.wait_for(job, 5)

    tasks = await db.tasks(run.run_id)
    assert [(t["status"], t["attempts_count"], t["claim_token"], t["worker_id"])
            for t in tasks] == [("queued", 0, None, None)] * 2
    assert await db.attempts(run.run_id) == []
    stopped = await db.value("select stopped_at from htdag.workers where worker_id = %s",
                             (worker.worker_id,))
    assert stopped is not None

    async with running_worker(engine, [flow]):
        assert await run.wait(timeout=10) == {"stuck": [1, 2]}
    assert sorted(started) == [(1, 1), (1, 1), (2, 1), (2, 1)]  # released: not an attempt


async def test_shutdown_lets_a_running_task_finish_within_the_timeout(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("finishing")
    entered = asyncio.Event()

    @flow.step()
    async def finishing(inp: Any) -> str:
        entered.set()
        await asyncio.sleep(0.3)
        return "finished"

    worker = engine.worker([flow], concurrency=1, poll_interval=0.05, shutdown_timeout=5)
    job = asyncio.create_task(worker.run())
    run = await engine.start(flow, None)
    await asyncio.wait_for(entered.wait(), 5)
    second = await engine.start(flow, None)  # no free slot now, and stopping after

    worker.stop()
    await asyncio.wait_for(job, 5)

    assert await run.wait(timeout=1) == {"finishing": "finished"}
    assert [t["status"] for t in await db.tasks(second.run_id)] == ["queued"]
    assert [a["outcome"] for a in await db.attempts()] == ["completed"]


async def test_stop_before_any_work_exits_promptly(engine: AsyncEngine, db: Db) -> None:
    flow = Flow("idle")
    flow.add_step("noop", "noop")
    worker = engine.worker({"noop": lambda inp: None}, poll_interval=0.05)
    job = asyncio.create_task(worker.run())
    await eventually(lambda: db.value("select count(*) from htdag.workers"))

    worker.stop()
    await asyncio.wait_for(job, 2)

    row = await db.row("select * from htdag.workers")
    assert row["worker_id"] == worker.worker_id and row["stopped_at"] is not None
