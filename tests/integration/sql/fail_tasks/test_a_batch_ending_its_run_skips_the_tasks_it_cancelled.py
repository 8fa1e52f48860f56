"""A batch of failures whose first one ends the run: the run's other tasks in
the batch were cancelled by it, and are skipped rather than failed again (which
the tables' CHECK constraints would refuse, losing the whole batch)."""

from __future__ import annotations

from htdag.core.store import Failure, Store

from ..._support import Db, claim, flow_of, start


async def test_a_batch_ending_its_run_skips_the_tasks_it_cancelled(
        store: Store, db: Db) -> None:
    flow = flow_of("f", ("m", [], {"map": True, "max_attempts": 1}))
    run_id = await start(store, flow, [1, 2, 3])
    tasks = sorted(await claim(store), key=lambda t: t.task_id)

    failed = await store.fail_tasks(
        [Failure(t.task_id, t.claim_token, f"broke {t.task_index}", t.task_index != 1)
         for t in tasks])

    # the first failure ends the run; the others' tasks were cancelled by it
    assert failed == [tasks[0].task_id]
    run = await db.run(run_id)
    assert run["status"] == "failed"
    assert run["error"]["message"] == "broke 0 (attempt 1 of 1)"
    statuses = [t["status"] for t in await db.tasks(run_id)]
    assert statuses == ["failed", "cancelled", "cancelled"]
    assert [a["task_id"] for a in await db.attempts(run_id)] == [tasks[0].task_id]
