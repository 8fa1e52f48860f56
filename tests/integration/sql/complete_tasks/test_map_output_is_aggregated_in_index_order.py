"""A map step completes when its last task does; its output is the list of its
tasks' outputs in index order, whatever the order they finished in."""

from __future__ import annotations

import asyncio
import json

import psycopg

from htdag.core.store import Completion, Store

from ..._support import Db, claim, complete, flow_of, start


async def test_map_outputs_are_aggregated_in_index_order(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("m", [], {"map": True})), ["a", "b", "c", "d"])
    tasks = {t.task_index: t for t in await claim(store)}

    remaining = []
    for index in (3, 0, 2):
        await complete(store, tasks[index], {"i": index})
        remaining.append((await db.step(run_id, "m"))["remaining_tasks"])
    assert remaining == [3, 2, 1]
    assert (await db.step(run_id, "m"))["status"] == "started"

    await complete(store, tasks[1], {"i": 1})

    m = await db.step(run_id, "m")
    assert m["status"] == "completed"
    assert m["output"] == [{"i": 0}, {"i": 1}, {"i": 2}, {"i": 3}]
    assert (await db.run(run_id))["output"] == {"m": m["output"]}


async def test_a_batch_completes_many_tasks_in_one_call(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("m", [], {"map": True}), ("after", ["m"])),
                         list(range(5)))
    tasks = await claim(store)

    done = await store.complete_tasks([Completion(t.task_id, t.claim_token,
                                                  json.dumps(t.input * 10))
                                       for t in reversed(tasks)])

    assert sorted(done) == sorted(t.task_id for t in tasks)
    assert (await db.step(run_id, "m"))["output"] == [0, 10, 20, 30, 40]
    [after] = await claim(store)
    assert after.input == {"run": [0, 1, 2, 3, 4], "m": [0, 10, 20, 30, 40]}


async def test_the_last_completion_sees_one_that_committed_while_it_waited(
        store: Store, db: Db, dsn: str) -> None:
    # Two workers finish the last two tasks at once: the second waits for the first's
    # lock on the step row, and the output it assembles must include the first's.
    run_id = await start(store, flow_of("f", ("m", [], {"map": True})), ["a", "b"])
    first, last = sorted(await claim(store), key=lambda t: t.task_index)
    sql = "select htdag.complete_tasks(%s, %s, %s::jsonb[])"
    async with await psycopg.AsyncConnection.connect(dsn) as tx:
        await tx.execute(sql, ([first.task_id], [first.claim_token], [json.dumps("A")]))
        waiting = asyncio.create_task(store.complete_tasks(
            [Completion(last.task_id, last.claim_token, json.dumps("B"))]))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # held by the open transaction's lock on the step
        await tx.commit()
    assert await asyncio.wait_for(waiting, 5) == [last.task_id]

    m = await db.step(run_id, "m")
    assert (m["status"], m["output"]) == ("completed", ["A", "B"])
