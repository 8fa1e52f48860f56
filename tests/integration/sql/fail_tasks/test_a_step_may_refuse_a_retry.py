"""A step's fail_fast fingerprints and retry budget refuse retries that the
optimizer learned are wasted: an error that failed again on every retry fails
the task at once, and once retries are the budget's share of the handler's
recent attempts, the next failure is not retried."""

from __future__ import annotations

from htdag.core.store import Store

from ..._support import Db, claim, fail, flow_of, start


async def test_a_fail_fast_error_fails_at_once_and_others_are_retried(
        store: Store, db: Db) -> None:
    step = ("a", [], {"map": True, "max_attempts": 3, "base_delay": 0, "max_delay": 0,
                      "fail_fast": ("ValueError: bad #",)})
    run_id = await start(store, flow_of("f", step), [1, 2])
    first, second = await claim(store)

    await fail(store, first, "ConnectionError: reset")
    assert (await db.task(run_id, "a", first.task_index))["status"] == "queued"
    await fail(store, second, "ValueError: bad 42")

    task = await db.task(run_id, "a", second.task_index)
    assert task["status"] == "failed" and "fail_fast" in task["error"]
    run = await db.run(run_id)
    assert run["status"] == "failed" and "attempt 1 of 3" in run["error"]["message"]


async def test_retries_stop_when_the_budget_is_spent(store: Store, db: Db) -> None:
    step = ("a", [], {"map": True, "max_attempts": 5, "base_delay": 0, "max_delay": 0,
                      "retry_budget": 0.1})
    run_id = await start(store, flow_of("f", step), list(range(20)))
    for task in await claim(store):  # first attempts: no retry spent yet
        await fail(store, task, "TimeoutError: upstream")
    assert await db.value("select count(*) from htdag.tasks where status = 'queued'") == 20

    for task in await claim(store):
        await fail(store, task, "TimeoutError: upstream")

    run = await db.run(run_id)
    assert run["status"] == "failed"
    assert "retry budget of handler h.a is spent (10 of its last 30" in run["error"]["message"]
    assert await db.value("select count(*) from htdag.attempts where attempt = 2") == 10


async def test_without_options_every_retryable_failure_is_retried(store: Store, db: Db) -> None:
    step = ("a", [], {"map": True, "max_attempts": 5, "base_delay": 0, "max_delay": 0})
    await start(store, flow_of("f", step), list(range(20)))
    for _ in range(2):
        for task in await claim(store):
            await fail(store, task, "ValueError: bad 42")

    assert await db.value("select count(*) from htdag.tasks where status = 'queued'") == 20
