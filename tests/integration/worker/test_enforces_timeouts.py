"""Timeouts are hard for async handlers (the handler is cancelled and the
attempt retried) and, for sync handlers, the attempt is abandoned and its late
result never recorded."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

from htdag import Flow, TaskContext
from htdag.core.engine import AsyncEngine
from htdag.core.errors import RunFailed

from .._support import Db, running_worker


async def test_an_async_handler_over_its_timeout_is_cancelled_and_retried(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("slow_async")
    cancelled = asyncio.Event()

    @flow.step(timeout=0.2, base_delay=0, max_delay=0)
    async def slow(inp: Any, ctx: TaskContext) -> str:
        if ctx.attempt == 1:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.set()
                raise
        return f"attempt {ctx.attempt}"

    started = time.monotonic()
    async with running_worker(engine, [flow]):
        assert await engine.run(flow, None, timeout=10) == {"slow": "attempt 2"}

    assert cancelled.is_set()
    assert time.monotonic() - started < 5
    attempts = await db.attempts()
    assert [(a["attempt"], a["outcome"], a["error"]) for a in attempts] == [
        (1, "timed_out", "timed out after 0.2s"), (2, "completed", None)]


async def test_a_sync_handler_over_its_timeout_is_abandoned_and_its_late_result_dropped(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("slow_sync")
    late_returned = threading.Event()

    @flow.step(timeout=0.2, base_delay=0, max_delay=0)
    def slow(inp: Any, ctx: TaskContext) -> str:
        if ctx.attempt == 1:
            time.sleep(1.0)
            late_returned.set()
            return "late"
        return "on time"

    async with running_worker(engine, [flow]) as worker:
        run = await engine.start(flow, None)
        assert await run.wait(timeout=10) == {"slow": "on time"}
        assert not late_returned.is_set()  # the run did not wait for the stuck thread
        assert await asyncio.to_thread(late_returned.wait, 5)
        await asyncio.sleep(0.3)  # room for a wrong report of the late result

        assert (worker.tasks_completed, worker.tasks_failed) == (1, 1)

    [task] = await db.tasks(run.run_id)
    assert (task["status"], task["output"], task["attempts_count"]) == ("completed", "on time", 2)
    attempts = await db.attempts(run.run_id)
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "timed_out"), (2, "completed")]
    assert (await db.run(run.run_id))["output"] == {"slow": "on time"}


async def test_a_handler_within_its_timeout_completes_on_the_first_attempt(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("quick")

    @flow.step(timeout=5)
    async def quick(inp: Any) -> str:
        await asyncio.sleep(0.05)
        return "ok"

    async with running_worker(engine, [flow]):
        assert await engine.run(flow, None, timeout=10) == {"quick": "ok"}
    assert [a["outcome"] for a in await db.attempts()] == ["completed"]


async def test_a_timeout_on_the_last_attempt_fails_the_run_as_timed_out(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("hangs")

    @flow.step(timeout=0.1, max_attempts=1)
    async def hang(inp: Any) -> None:
        await asyncio.sleep(30)

    async with running_worker(engine, [flow]):
        run = await engine.start(flow, None)
        with contextlib.suppress(RunFailed):
            await run.wait(timeout=10)

    assert (await db.run(run.run_id))["error_code"] == "timed_out"
    [attempt] = await db.attempts()
    assert attempt["outcome"] == "timed_out"
    kinds = [e["kind"] for e in await db.rows("select kind from htdag.events order by event_id")]
    assert kinds.index("task.timed_out") < kinds.index("task.failed")
