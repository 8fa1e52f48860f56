"""Each attempt keeps how long its handler ran, as the worker measured: the clock
a step's timeout and hedge delay count on, without the claim and the report."""

from __future__ import annotations

import asyncio
from typing import Any

from htdag import Flow, TaskContext
from htdag.core.engine import AsyncEngine

from .._support import Db, running_worker


async def test_completed_and_failed_attempts_keep_their_handlers_run_time(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("measured")

    @flow.step(base_delay=0, max_delay=0)
    async def nap(inp: Any, ctx: TaskContext) -> str:
        await asyncio.sleep(0.3 if ctx.attempt == 1 else 0.1)
        if ctx.attempt == 1:
            raise ValueError("first attempt fails")
        return "done"

    async with running_worker(engine, [flow]):
        assert await engine.run(flow, None, timeout=10) == {"nap": "done"}

    rows = await db.rows(
        "select attempt, outcome, run_seconds,"
        " extract(epoch from finished_at - started_at)::float8 as duration"
        " from htdag.attempts order by attempt")
    assert [(r["attempt"], r["outcome"]) for r in rows] == [(1, "failed"), (2, "completed")]
    failed, completed = rows
    assert 0.3 <= failed["run_seconds"] <= failed["duration"]
    assert 0.1 <= completed["run_seconds"] <= completed["duration"]
    assert completed["run_seconds"] < 0.3
