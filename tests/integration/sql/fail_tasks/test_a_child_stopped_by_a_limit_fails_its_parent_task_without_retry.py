"""Whether a failed child run fails its parent's task without retry is decided by
the child's typed error code (runs.error_code), never by the text of its error:
a limit (here the task budget, or a handler stopped by one) is not retried, and
the code goes up with the failure; any other failure is retried by the parent
task's own policy, whatever its message says."""

from __future__ import annotations

import uuid

from htdag.core.store import Failure, Store

from ..._support import Db, claim, flow_of, start


async def waiting_parent(store: Store, db: Db) -> tuple[uuid.UUID, int]:
    """A root run whose one task (3 attempts) waits for a child run of its own."""
    parent = await start(store, flow_of("parent", ("p", [], {"max_attempts": 3})), None)
    (task,) = await claim(store)
    child_flow = flow_of("child", ("c", [], {"max_attempts": 1}))
    await store.add_flow(child_flow.hash, child_flow.to_definition())
    child = await store.start_run(child_flow.hash, "null", parent, task.task_id)
    assert await store.wait_for_runs([(task.task_id, task.claim_token, child)]) == [task.task_id]
    return child, task.task_id


async def fail_child(store: Store, child: uuid.UUID, error: str, code: str | None) -> None:
    (task,) = [t for t in await claim(store) if t.run_id == child]
    await store.fail_tasks([Failure(task.task_id, task.claim_token, error, False, code)])


async def test_a_child_failed_by_a_limit_fails_the_parent_task_at_once(
        store: Store, db: Db) -> None:
    child, parent_task = await waiting_parent(store, db)

    await fail_child(store, child, "SubgoalLimitError: some words", "limit_reached")

    task = await db.row("select * from htdag.tasks where task_id = %s", (parent_task,))
    assert (task["status"], task["attempts_count"]) == ("failed", 1)
    parent = await db.run(task["run_id"])
    assert (parent["status"], parent["error_code"]) == ("failed", "limit_reached")


async def test_a_child_failed_otherwise_is_retried_whatever_its_message(
        store: Store, db: Db) -> None:
    child, parent_task = await waiting_parent(store, db)

    await fail_child(store, child, "task budget exceeded (only words)", None)

    task = await db.row("select * from htdag.tasks where task_id = %s", (parent_task,))
    assert task["status"] == "queued"
    assert (await db.run(child))["error_code"] is None
