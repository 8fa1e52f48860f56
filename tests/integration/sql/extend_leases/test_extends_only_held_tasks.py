"""extend_leases is a worker's heartbeat: it extends the leases of the tasks
the worker still holds, returns their ids, and records the heartbeat."""

from __future__ import annotations

import uuid

from htdag.core.store import Store

from ..._support import WORKER_A, WORKER_B, Db, claim, complete, flow_of, start

LEASE_LEFT = "select task_id, extract(epoch from lease_expires_at - now())::float as left" \
             " from htdag.tasks where status = 'started'"


async def test_only_tasks_still_held_with_their_token_are_extended(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("m", [], {"map": True})), [1, 2, 3, 4])
    held, done, taken, forged = sorted(await claim(store, lease=5),
                                                   key=lambda t: t.task_index)
    await complete(store, done, "ok")
    await db.execute("update htdag.tasks set claim_token = gen_random_uuid()"
                     " where task_id = %s", (taken.task_id,))

    kept = await store.extend_leases(
        WORKER_A, [(t.task_id, t.claim_token) for t in (held, done, taken)]
        + [(forged.task_id, uuid.uuid4())], 120)

    assert kept == {held.task_id}
    left = {r["task_id"]: r["left"] for r in await db.rows(LEASE_LEFT)}
    assert 115 < left[held.task_id] <= 120
    assert left[taken.task_id] <= 5
    assert left[forged.task_id] <= 5
    assert (await db.run(run_id))["status"] == "running"


async def test_a_task_of_a_cancelled_run_is_not_held_any_more(store: Store) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)
    [task] = await claim(store)
    await store.cancel_run(run_id)

    assert await store.extend_leases(WORKER_A, [(task.task_id, task.claim_token)], 30) == set()


async def test_a_heartbeat_updates_the_workers_last_heartbeat(store: Store, db: Db) -> None:
    await store.register_worker(WORKER_A, "host", 1, ["h.a"], 4, 30.0)
    await store.register_worker(WORKER_B, "host", 2, ["h.a"], 4, 30.0)
    await db.execute("update htdag.workers set last_heartbeat_at = now() - interval '1 hour'")

    assert await store.extend_leases(WORKER_A, [], 30) == set()

    ages = {r["worker_id"]: r["age"] for r in await db.rows(
        "select worker_id, extract(epoch from now() - last_heartbeat_at)::float as age"
        " from htdag.workers")}
    assert ages[WORKER_A] < 60
    assert ages[WORKER_B] >= 3600
