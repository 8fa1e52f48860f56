"""A completion whose claim token is not the task's current one (its lease ran
out and it was claimed again, or it was completed already) changes nothing."""

from __future__ import annotations

import uuid

from htdag.core.store import Store

from ..._support import WORKER_A, WORKER_B, Db, claim, complete, flow_of, start


async def test_a_completion_with_a_superseded_token_is_rejected(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [], {"base_delay": 0})), 1)
    [old] = await claim(store, worker=WORKER_A)
    await db.execute("update htdag.tasks set lease_expires_at = now() - interval '1 second'")
    [new] = await claim(store, worker=WORKER_B)

    assert await complete(store, old, "late") == []

    row = await db.task(run_id, "a")
    assert row["status"] == "started" and row["claim_token"] == new.claim_token
    assert row["output"] is None
    assert [a["outcome"] for a in await db.attempts(run_id)] == ["lost"]
    assert (await db.run(run_id))["status"] == "running"

    assert await complete(store, new, "on time") == [new.task_id]
    assert (await db.run(run_id))["output"] == {"a": "on time"}


async def test_a_made_up_token_is_rejected(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), 1)
    [task] = await claim(store)

    assert await complete(store, task, "x", token=uuid.uuid4()) == []

    assert (await db.task(run_id, "a"))["status"] == "started"


async def test_completing_twice_records_the_first_completion_only(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), 1)
    [task] = await claim(store)

    assert await complete(store, task, "first") == [task.task_id]
    assert await complete(store, task, "second") == []

    assert (await db.task(run_id, "a"))["output"] == "first"
    assert [a["outcome"] for a in await db.attempts(run_id)] == ["completed"]
    assert (await db.run(run_id))["output"] == {"a": "first"}
