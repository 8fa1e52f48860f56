"""A worker whose task was taken from it (its lease expired and another claim
reaped it) abandons the task at its next heartbeat and reports nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from htdag import Flow, TaskContext
from htdag.core.engine import AsyncEngine

from .._support import WORKER_B, Db, running_worker

EXPIRE = ("update htdag.tasks set lease_expires_at = now() - interval '1 second'"
          " where status = 'started'")
CLAIM = "select task_id, claim_token, attempt from htdag.claim_tasks(%s, 10, null, 30)"


async def test_a_worker_abandons_a_task_reaped_and_claimed_by_another(
        engine: AsyncEngine, db: Db, dsn: str) -> None:
    flow = Flow("leased")
    entered, abandoned = asyncio.Event(), asyncio.Event()

    @flow.step(base_delay=0, max_delay=0)
    async def hold(inp: Any, ctx: TaskContext) -> str:
        if ctx.attempt == 1:
            entered.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                abandoned.set()
                raise
        return f"done on attempt {ctx.attempt}"

    async with running_worker(engine, [flow], lease_seconds=1.2) as worker:
        run = await engine.start(flow, None)
        await asyncio.wait_for(entered.wait(), 5)

        # Another worker's claim reaps the expired lease and takes the task, in
        # one transaction so that the first worker's heartbeat cannot slip in.
        async with await psycopg.AsyncConnection.connect(dsn) as other:
            await other.execute(EXPIRE)
            cur = await other.execute(CLAIM, (WORKER_B,))
            [(task_id, token, attempt)] = await cur.fetchall()
            await other.commit()
        assert attempt == 2

        await asyncio.wait_for(abandoned.wait(), 2.0)  # heartbeat every 0.4 s
        await asyncio.sleep(0.2)
        assert (worker.tasks_completed, worker.tasks_failed) == (0, 0)
        row = await db.task(run.run_id, "hold")
        assert (row["status"], row["claim_token"], row["worker_id"]) == (
            "started", token, WORKER_B)

        # The other worker gives it back; the first one runs it to the end.
        await engine.store.release_tasks([(task_id, token)])
        assert await run.wait(timeout=10) == {"hold": "done on attempt 2"}

    attempts = await db.attempts(run.run_id)
    assert [(a["attempt"], a["outcome"], a["worker_id"]) for a in attempts] == [
        (1, "lost", worker.worker_id), (2, "completed", worker.worker_id)]
    assert worker.tasks_completed == 1
