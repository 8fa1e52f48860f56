"""A retryable failure with attempts left puts the task back in the queue after
an exponential backoff with jitter (base_delay * 2^(attempt-1) * [0.5, 1)),
capped by max_delay."""

from __future__ import annotations

import uuid

from htdag.core.store import Store

from ..._support import Db, claim, fail, flow_of, start

DELAY = "select extract(epoch from available_at - queued_at)::float as delay, * from htdag.tasks"


async def fail_and_measure(store: Store, db: Db, run_id: uuid.UUID) -> float:
    [task] = await claim(store)
    assert await fail(store, task, f"attempt {task.attempt} broke") == [task.task_id]
    row = await db.row(DELAY + " where run_id = %s", (run_id,))
    assert row["status"] == "queued"
    assert row["claim_token"] is None and row["worker_id"] is None
    assert row["attempts_count"] == task.attempt
    assert row["error"] == f"attempt {task.attempt} broke"
    await db.execute("update htdag.tasks set available_at = now()")  # skip the wait
    return float(row["delay"])


async def test_a_retry_is_requeued_in_the_future_with_backoff_growing_per_attempt(
        store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", [], {"max_attempts": 5, "base_delay": 10, "max_delay": 1000}))
    run_id = await start(store, flow, None)

    delays = [await fail_and_measure(store, db, run_id) for _ in range(3)]

    assert 5 <= delays[0] < 10
    assert 10 <= delays[1] < 20
    assert 20 <= delays[2] < 40
    attempts = await db.attempts(run_id)
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [
        (1, "failed"), (2, "failed"), (3, "failed")]
    assert attempts[1]["error"] == "attempt 2 broke"
    assert (await db.run(run_id))["status"] == "running"


async def test_a_requeued_task_is_not_claimed_before_its_backoff_ends(
        store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [], {"base_delay": 30})), None)
    [task] = await claim(store)
    await fail(store, task)

    assert await claim(store) == []
    assert (await db.task(run_id, "a"))["status"] == "queued"


async def test_the_backoff_is_capped_by_max_delay(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", [], {"max_attempts": 6, "base_delay": 10, "max_delay": 12}))
    run_id = await start(store, flow, None)

    delays = [await fail_and_measure(store, db, run_id) for _ in range(4)]

    assert all(d < 12 for d in delays)
    assert delays[3] >= 6
