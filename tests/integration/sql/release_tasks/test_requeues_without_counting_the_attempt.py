"""A worker shutting down releases tasks it will not finish: they are queued
again at once, and the attempt does not count."""

from __future__ import annotations

from htdag.core.store import Store

from ..._support import WORKER_B, Db, claim, complete, flow_of, start


async def test_a_released_task_is_queued_again_and_its_attempt_not_counted(
        store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [], {"max_attempts": 1})), "x")
    [task] = await claim(store)

    assert await store.release_tasks([(task.task_id, task.claim_token)]) == [task.task_id]

    row = await db.task(run_id, "a")
    assert row["status"] == "queued"
    assert row["attempts_count"] == 0
    assert row["claim_token"] is None and row["worker_id"] is None
    assert row["lease_expires_at"] is None
    assert await db.attempts(run_id) == []
    [again] = await claim(store, worker=WORKER_B)
    assert (again.task_id, again.attempt, again.input) == (task.task_id, 1, {"run": "x"})
    assert again.claim_token != task.claim_token
    # the old token is dead: a late completion from the releasing worker is rejected
    assert await complete(store, task, "late") == []
    assert await complete(store, again, "ok") == [task.task_id]


async def test_releasing_with_a_stale_token_changes_nothing(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)
    [task] = await claim(store)
    await complete(store, task, 1)

    assert await store.release_tasks([(task.task_id, task.claim_token)]) == []

    row = await db.task(run_id, "a")
    assert (row["status"], row["attempts_count"]) == ("completed", 1)
