"""A task of a step with hedge_after still running after that long gets a second
execution at once: in a free slot of the worker running it, else pushed to an
idle worker (the other workers poll only every 5 s here). The first execution to
finish is the task's, the other is cancelled, and the task completes once. A
second execution the budget refuses is stopped as soon as the database says so."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from htdag import Flow, TaskContext
from htdag.core.engine import AsyncEngine

from .._support import Db, eventually, running_worker


def hedged_flow(first_sleeps: float, second_sleeps: float, hedge_after: float = 0.2
                ) -> tuple[Flow, list[str], dict[int, asyncio.Event]]:
    """``call``: "fast" returns at once; "slow" sleeps ``first_sleeps`` on its
    first execution and ``second_sleeps`` on its second. Records each call and
    sets ``cancelled[n]`` when the n-th execution of "slow" is cancelled."""
    flow = Flow("hedged")
    calls: list[str] = []
    cancelled = {1: asyncio.Event(), 2: asyncio.Event()}

    @flow.step(map=True, hedge_after=hedge_after, max_attempts=1)
    async def call(item: str, ctx: TaskContext) -> str:
        calls.append(item)
        nth = calls.count(item)
        if item == "slow":
            try:
                await asyncio.sleep(first_sleeps if nth == 1 else second_sleeps)
            except asyncio.CancelledError:
                cancelled[nth].set()
                raise
        return f"{item} done ({nth})"

    return flow, calls, cancelled


async def hedged_attempt(db: Db, run_id: Any) -> dict[str, Any]:
    [attempt] = await db.rows("select a.hedge, a.worker_id, a.run_seconds, t.worker_id as first,"
                              " t.hedge_worker_id from htdag.attempts a"
                              " join htdag.tasks t using (task_id) where a.run_id = %s",
                              (run_id,))
    assert await db.value("select count(*) from htdag.events where run_id = %s"
                          " and kind = 'task.completed'", (run_id,)) == 1
    return attempt


async def test_a_worker_with_a_free_slot_runs_the_hedge_itself_and_the_faster_wins(
        engine: AsyncEngine, db: Db) -> None:
    flow, calls, cancelled = hedged_flow(30, 0)
    async with running_worker(engine, [flow], concurrency=4):
        # 40 recorded attempts: the hedge budget (5 %) allows two hedges.
        assert len((await engine.run(flow, ["fast"] * 40, timeout=20))["call"]) == 40
        started = time.monotonic()
        run = await engine.start(flow, ["slow"])
        assert await run.wait(timeout=10) == {"call": ["slow done (2)"]}
        took = time.monotonic() - started
        await eventually(cancelled[1].is_set, timeout=5)

    assert took < 2 and calls.count("slow") == 2
    attempt = await hedged_attempt(db, run.run_id)
    assert attempt["hedge"] == "won" and attempt["first"] == attempt["hedge_worker_id"]
    assert attempt["run_seconds"] < 0.2  # the hedge's own run


async def test_without_a_free_slot_the_hedge_is_pushed_to_an_idle_worker(
        engine: AsyncEngine, db: Db) -> None:
    flow, calls, cancelled = hedged_flow(30, 0, hedge_after=0.5)
    async with running_worker(engine, [flow], concurrency=1, poll_interval=5.0) as busy:
        assert len((await engine.run(flow, ["fast"] * 40, timeout=20))["call"]) == 40
        started = time.monotonic()
        run = await engine.start(flow, ["slow"])
        await eventually(lambda: calls.count("slow") == 1, timeout=5)
        # Started after the task and before its hedge_after: idle, polling every 5 s.
        async with running_worker(engine, [flow], poll_interval=5.0) as idle:
            assert await run.wait(timeout=10) == {"call": ["slow done (2)"]}
            took = time.monotonic() - started
            await eventually(cancelled[1].is_set, timeout=5)

    assert took < 2
    attempt = await hedged_attempt(db, run.run_id)
    assert attempt["hedge"] == "won" and attempt["first"] == busy.worker_id
    assert attempt["hedge_worker_id"] == idle.worker_id


async def test_the_first_execution_finishing_first_stops_the_hedge(
        engine: AsyncEngine, db: Db) -> None:
    flow, _, cancelled = hedged_flow(0.5, 30)
    async with running_worker(engine, [flow], concurrency=4):
        assert len((await engine.run(flow, ["fast"] * 40, timeout=20))["call"]) == 40
        run = await engine.start(flow, ["slow"])
        assert await run.wait(timeout=10) == {"call": ["slow done (1)"]}
        await eventually(cancelled[2].is_set, timeout=5)

    attempt = await hedged_attempt(db, run.run_id)
    assert attempt["hedge"] == "lost" and attempt["first"] == attempt["hedge_worker_id"]
    assert attempt["run_seconds"] >= 0.5


async def test_a_hedge_the_budget_refuses_is_stopped_at_once(
        engine: AsyncEngine, db: Db) -> None:
    flow, _, cancelled = hedged_flow(1.0, 30)  # no recorded attempts: no budget
    async with running_worker(engine, [flow], concurrency=4):
        run = await engine.start(flow, ["slow"])
        await eventually(cancelled[2].is_set, timeout=0.7)  # long before the first ends
        assert await run.wait(timeout=10) == {"call": ["slow done (1)"]}

    attempt = await hedged_attempt(db, run.run_id)
    assert attempt["hedge"] is None and attempt["hedge_worker_id"] is None
