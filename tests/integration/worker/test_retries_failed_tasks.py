"""Failed attempts are retried after a growing backoff; a NonRetryableError
fails the task, step and run at once."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from htdag import Flow, NonRetryableError, TaskContext
from htdag.core.engine import AsyncEngine
from htdag.errors import RunFailed

from .._support import Db, running_worker

GAPS = ("select attempt, outcome, error, extract(epoch from started_at - lag(finished_at)"
        " over (order by attempt))::float as gap from htdag.attempts order by attempt")


async def test_a_failing_handler_is_retried_with_backoff_until_it_succeeds(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("flaky")
    calls: list[tuple[int, float]] = []

    @flow.step(max_attempts=4, base_delay=0.2, max_delay=10)
    def flaky(inp: Any, ctx: TaskContext) -> str:
        calls.append((ctx.attempt, time.monotonic()))
        if ctx.attempt < 3:
            raise ConnectionError(f"try {ctx.attempt} failed")
        return "third time lucky"

    async with running_worker(engine, [flow], poll_interval=0.02):
        assert await engine.run(flow, None, timeout=10) == {"flaky": "third time lucky"}

    assert [a for a, _ in calls] == [1, 2, 3]
    assert calls[1][1] - calls[0][1] >= 0.1  # base_delay * 2^0 * 0.5
    assert calls[2][1] - calls[1][1] >= 0.2  # base_delay * 2^1 * 0.5
    attempts = await db.rows(GAPS)
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [
        (1, "failed"), (2, "failed"), (3, "completed")]
    assert attempts[0]["error"] == "ConnectionError: try 1 failed"
    assert attempts[1]["gap"] >= 0.1
    assert attempts[2]["gap"] >= 0.2


async def test_retries_stop_after_max_attempts_and_the_run_fails(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("hopeless")
    calls: list[int] = []

    @flow.step(max_attempts=3, base_delay=0.01, max_delay=0.01)
    def hopeless(inp: Any, ctx: TaskContext) -> None:
        calls.append(ctx.attempt)
        raise ValueError("never works")

    async with running_worker(engine, [flow], poll_interval=0.02):
        with pytest.raises(RunFailed) as caught:
            await engine.run(flow, None, timeout=10)

    assert calls == [1, 2, 3]
    assert caught.value.error == "ValueError: never works (attempt 3 of 3)"
    assert [a["outcome"] for a in await db.rows(GAPS)] == ["failed"] * 3


async def test_a_non_retryable_error_fails_at_once(engine: AsyncEngine, db: Db) -> None:
    flow = Flow("strict")
    calls: list[int] = []

    class BadInput(NonRetryableError):
        """The input cannot work."""

    @flow.step(max_attempts=5, base_delay=0)
    async def strict(inp: Any, ctx: TaskContext) -> None:
        calls.append(ctx.attempt)
        raise BadInput()

    async with running_worker(engine, [flow]):
        with pytest.raises(RunFailed) as caught:
            await engine.run(flow, None, timeout=10)

    assert calls == [1]
    assert caught.value.step == "strict"
    assert caught.value.error == "BadInput: The input cannot work. (attempt 1 of 5)"
    task = await db.row("select * from htdag.tasks")
    assert (task["status"], task["attempts_count"]) == ("failed", 1)


async def test_many_tasks_of_one_run_failing_together_fail_the_run_once(
        engine: AsyncEngine, db: Db, caplog: pytest.LogCaptureFixture) -> None:
    # Their failures reach the database in one batch: the first ends the run and
    # cancels the others, which must not break the batch (or the worker).
    flow = Flow("doomed")

    @flow.step(map=True, max_attempts=1)
    async def doomed(x: int) -> None:
        raise ValueError(f"item {x}")

    ok = Flow("ok")

    @ok.step()
    def fine(inp: Any) -> str:
        return "still serving"

    async with running_worker(engine, [flow, ok], concurrency=16):
        with pytest.raises(RunFailed):
            await engine.run(flow, list(range(40)), timeout=10)
        assert await engine.run(ok, None, timeout=10) == {"fine": "still serving"}

    statuses = await db.rows("select t.status, count(*) from htdag.tasks t join htdag.runs r"
                             " using (run_id) where r.status = 'failed' group by t.status")
    counts = {s["status"]: s["count"] for s in statuses}
    assert counts["failed"] >= 1
    assert set(counts) <= {"failed", "cancelled"}
    assert sum(counts.values()) == 40
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
