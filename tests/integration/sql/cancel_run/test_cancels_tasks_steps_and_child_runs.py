"""cancel_run cancels a running run, its queued and started tasks, its
unfinished steps, and its child runs (recursively)."""

from __future__ import annotations

import uuid

import pytest

from htdag.core.store import Store
from htdag.errors import UnknownRunError

from ..._support import Db, by_step, claim, complete, flow_of, start


async def test_cancelling_a_run_cancels_its_tasks_and_steps(store: Store, db: Db) -> None:
    flow = flow_of("f", ("m", [], {"map": True}), ("after", ["m"]), ("done", []))
    run_id = await start(store, flow, [1, 2, 3])
    claimed = by_step(await claim(store, limit=2))  # m[0] and done[0]
    await complete(store, claimed["done", 0], "finished first")

    assert await store.cancel_run(run_id) == "cancelled"

    run = await db.run(run_id)
    assert run["status"] == "cancelled" and run["cancelled_at"] is not None
    assert run["output"] is None
    tasks = {(t["step_name"], t["task_index"]): t for t in await db.tasks(run_id)}
    assert {k: t["status"] for k, t in tasks.items()} == {
        ("m", 0): "cancelled", ("m", 1): "cancelled", ("m", 2): "cancelled",
        ("done", 0): "completed"}
    assert all(t["claim_token"] is None for t in tasks.values())
    steps = {s["step_name"]: s["status"] for s in await db.rows(
        "select * from htdag.step_states where run_id = %s", (run_id,))}
    assert steps == {"m": "cancelled", "after": "cancelled", "done": "completed"}
    assert await claim(store) == []
    assert await complete(store, claimed["m", 0], "late") == []
    assert (await db.run(run_id))["status"] == "cancelled"


async def test_cancelling_a_run_cascades_to_its_child_runs(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []))
    parent = await start(store, flow, "p")
    child = await start(store, flow, "c", parent_run_id=parent)
    grandchild = await start(store, flow, "g", parent_run_id=child)
    finished_child = await start(store, flow, "f", parent_run_id=parent)
    unrelated = await start(store, flow, "u")
    tasks = {t.input["run"]: t for t in await claim(store)}
    await complete(store, tasks["f"], "done before")

    assert await store.cancel_run(parent) == "cancelled"

    status = {r["run_id"]: r["status"] for r in await db.rows("select * from htdag.runs")}
    assert status == {parent: "cancelled", child: "cancelled", grandchild: "cancelled",
                      finished_child: "completed", unrelated: "running"}
    assert (await db.task(grandchild, "a"))["status"] == "cancelled"
    assert (await db.task(unrelated, "a"))["status"] == "started"


async def test_cancelling_a_child_leaves_its_parent_running(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []))
    parent = await start(store, flow, "p")
    child = await start(store, flow, "c", parent_run_id=parent)

    assert await store.cancel_run(child) == "cancelled"

    assert (await db.run(parent))["status"] == "running"


async def test_cancelling_an_unknown_run_raises_unknown_run_error(store: Store) -> None:
    with pytest.raises(UnknownRunError, match="unknown run"):
        await store.cancel_run(uuid.uuid4())


async def test_cancelling_a_finished_run_changes_nothing(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)
    [task] = await claim(store)
    await complete(store, task, 42)
    before = await db.run(run_id)

    assert await store.cancel_run(run_id) == "completed"

    assert await db.run(run_id) == before
    assert (await db.task(run_id, "a"))["status"] == "completed"


async def test_cancelling_twice_returns_cancelled_and_keeps_the_first_time(
        store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)
    await store.cancel_run(run_id)
    first = (await db.run(run_id))["cancelled_at"]

    assert await store.cancel_run(run_id) == "cancelled"
    assert (await db.run(run_id))["cancelled_at"] == first
