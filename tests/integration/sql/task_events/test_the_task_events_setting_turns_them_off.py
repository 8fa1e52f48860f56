"""The task_events setting (on by default) chooses whether task-level events
are recorded; run, step and worker events are recorded either way."""

from __future__ import annotations

from htdag.core.store import Store

from ..._event_support import kinds_of, table_events
from ..._support import WORKER_B, Db, claim, complete, fail, flow_of, start

OFF = "update htdag.settings set value = 'false' where key = 'task_events'"
ON = "update htdag.settings set value = 'true' where key = 'task_events'"


async def test_task_events_are_on_by_default(db: Db) -> None:
    assert await db.value("select value from htdag.settings where key = 'task_events'") is True


async def test_with_task_events_off_only_run_and_step_events_are_recorded(
        store: Store, db: Db) -> None:
    await db.execute(OFF)
    run_id = await start(store, flow_of("f", ("m", [], {"map": True, "base_delay": 0,
                                                         "max_delay": 0})), [1, 2])
    first, second = await claim(store)
    await fail(store, first, "flaky")  # a retry
    await db.execute("update htdag.tasks set lease_expires_at = now() - interval '1 second'"
                     " where task_id = %s", (second.task_id,))  # a timeout, reaped below
    for task in await claim(store, worker=WORKER_B):
        await complete(store, task, task.task_index)
    for task in await claim(store, worker=WORKER_B):
        await complete(store, task, task.task_index)

    assert (await db.run(run_id))["status"] == "completed"
    assert await db.value("select count(*) from htdag.attempts where outcome = 'lost'") == 1
    assert kinds_of(await table_events(db, run_id)) == [
        "run.started", "step.started", "step.completed", "run.completed"]


async def test_turning_task_events_back_on_records_them_again(store: Store, db: Db) -> None:
    await db.execute(OFF)
    run_id = await start(store, flow_of("f", ("a", []), ("b", ["a"])), None)
    [a] = await claim(store)
    await complete(store, a, 1)
    await db.execute(ON)
    [b] = await claim(store)
    await complete(store, b, 2)

    assert [(e["kind"], e["step_name"]) for e in await table_events(db, run_id)
            if e["kind"].startswith("task.")] == [("task.started", "b"), ("task.completed", "b")]


async def test_worker_events_do_not_depend_on_the_task_events_setting(
        store: Store, db: Db) -> None:
    await db.execute(OFF)
    await store.register_worker(WORKER_B, "host", 1, ["h.a"], 1, 30.0)
    await store.stop_worker(WORKER_B)

    assert kinds_of(await table_events(db)) == ["worker.joined", "worker.stopped"]
