"""A claim takes no task that a younger transaction wrote. Events are ordered by
their transaction's id (their position), and a function's statements see what
committed since it began. A transaction that got its id before a run's did, and
then claimed that run's task, would put the task's task.started before the run's
run.started. (A worker's exchange gets its id early: it locks its worker's row;
a run's start gets its id at its first write, a little after it began.)"""

from __future__ import annotations

import json

import psycopg

from htdag.core.store import Store

from ..._support import WORKER_A, Db, claim, flow_of


async def test_a_task_of_a_run_that_got_its_id_after_the_claimer_waits(
        store: Store, db: Db, dsn: str) -> None:
    flow = flow_of("f", ("a", []))
    await store.add_flow(flow.hash, flow.to_definition())
    async with (await psycopg.AsyncConnection.connect(dsn) as starting,
                await psycopg.AsyncConnection.connect(dsn) as claiming):
        await starting.execute("select now()")  # begins first: its tasks are due at once
        await claiming.execute("select pg_current_xact_id()")  # gets its id first
        cur = await starting.execute("select htdag.start_run(%s, %s::jsonb, null, null, 10,"
                                     " null)", (flow.hash, json.dumps(None)))
        row = await cur.fetchone()
        assert row is not None
        run_id = row[0]
        await starting.commit()

        cur = await claiming.execute(
            "select task_id from htdag.claim_tasks(%s, 10, null, 30)", (WORKER_A,))
        assert await cur.fetchall() == []
        await claiming.commit()

    [task] = await claim(store)  # a younger transaction takes it
    assert task.run_id == run_id
    kinds = [r["kind"] for r in await db.rows(
        "select kind from htdag.events where run_id = %s order by tx_id, event_id", (run_id,))]
    assert kinds[0] == "run.started"
    assert kinds.index("task.started") > kinds.index("step.started")
