"""A non-retryable failure fails the task, step and run on its first attempt,
whatever max_attempts says."""

from __future__ import annotations

from htdag.core.store import Store

from ..._support import Db, claim, fail, flow_of, start


async def test_a_non_retryable_failure_fails_the_run_at_once(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [], {"max_attempts": 5}), ("b", ["a"])), 1)
    [task] = await claim(store)

    assert await fail(store, task, "NonRetryableError: bad input", retryable=False) == [
        task.task_id]

    row = await db.task(run_id, "a")
    assert (row["status"], row["attempts_count"]) == ("failed", 1)
    assert row["error"] == "NonRetryableError: bad input"
    run = await db.run(run_id)
    assert run["status"] == "failed"
    assert run["error"]["message"] == "NonRetryableError: bad input (attempt 1 of 5)"
    assert (await db.step(run_id, "b"))["status"] == "cancelled"
    assert [(a["attempt"], a["outcome"]) for a in await db.attempts(run_id)] == [(1, "failed")]


async def test_a_failure_with_a_stale_token_changes_nothing(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), 1)
    [task] = await claim(store)
    await store.release_tasks([(task.task_id, task.claim_token)])

    assert await fail(store, task, retryable=False) == []

    assert (await db.task(run_id, "a"))["status"] == "queued"
    assert (await db.run(run_id))["status"] == "running"
    assert await db.attempts(run_id) == []
