"""A map step completes when its last task does; its output is the list of its
tasks' outputs in index order, whatever the order they finished in."""

from __future__ import annotations

import json

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
