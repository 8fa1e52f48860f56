"""A cancellation and a worker's batch touching the same run wait for each
other in one order (task rows first, by task_id), so they never deadlock."""

from __future__ import annotations

import asyncio

import psycopg

from htdag.core.store import Completion, Store

from ..._support import Db, claim, eventually, flow_of, start

WAITING = ("select count(*) from pg_stat_activity"
           " where datname = current_database() and wait_event_type = 'Lock'")


async def test_a_cancel_waiting_on_a_completing_batch_goes_through_after_it(
        store: Store, db: Db, dsn: str) -> None:
    run_id = await start(store, flow_of("f", ("m", [], {"map": True}), ("after", ["m"])),
                         [1, 2, 3])
    tasks = sorted(await claim(store), key=lambda t: -t.task_id)  # not in task_id order
    async with await psycopg.AsyncConnection.connect(dsn) as blocker:
        # Hold the step row: the batch locks its tasks, then waits here.
        await blocker.execute("select 1 from htdag.step_states where run_id = %s"
                              " and step_name = 'm' for update", (run_id,))
        batch = asyncio.create_task(store.complete_tasks(
            [Completion(t.task_id, t.claim_token, "1") for t in tasks]))
        await eventually(lambda: db.value(WAITING + " and query like '%%complete_tasks%%'"))
        cancel = asyncio.create_task(store.cancel_run(run_id))
        await eventually(lambda: db.value(WAITING + " and query like '%%cancel_run%%'"))

        await blocker.commit()  # the batch finishes step m, which starts "after"
        done, status = await asyncio.wait_for(asyncio.gather(batch, cancel), 10)

    assert sorted(done) == sorted(t.task_id for t in tasks)
    assert status == "cancelled"
    assert [(t["step_name"], t["status"]) for t in await db.tasks(run_id)] == [
        ("after", "cancelled"), ("m", "completed"), ("m", "completed"), ("m", "completed")]
    assert (await db.run(run_id))["status"] == "cancelled"
