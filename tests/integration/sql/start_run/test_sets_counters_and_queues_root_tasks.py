"""start_run creates the run, one state per step with its counters, and the
tasks of the root steps only."""

from __future__ import annotations

import json

from htdag.core.store import Store

from ..._support import Db, flow_of, start


async def test_counters_start_at_the_number_of_steps_and_of_each_steps_deps(
        store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []), ("b", ["a"]), ("c", ["a", "b"]), ("d", []))

    run_id = await start(store, flow, {"k": 1})

    run = await db.run(run_id)
    assert run["status"] == "running"
    assert run["remaining_steps"] == 4
    assert run["input"] == {"k": 1}
    assert run["root_run_id"] == run_id and run["parent_run_id"] is None
    states = {s["step_name"]: s for s in await db.rows(
        "select * from htdag.step_states where run_id = %s", (run_id,))}
    assert {n: s["remaining_deps"] for n, s in states.items()} == {"a": 0, "b": 1, "c": 2, "d": 0}
    assert {n: s["status"] for n, s in states.items()} == {
        "a": "started", "b": "created", "c": "created", "d": "started"}
    assert states["a"]["remaining_tasks"] == 1 and states["a"]["initial_tasks"] == 1
    assert states["b"]["remaining_tasks"] is None


async def test_only_root_steps_get_tasks_and_they_are_queued(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []), ("b", ["a"]), ("d", [], {"priority": 4, "max_attempts": 2}))

    run_id = await start(store, flow, None)

    tasks = await db.tasks(run_id)
    assert [(t["step_name"], t["task_index"], t["status"]) for t in tasks] == [
        ("a", 0, "queued"), ("d", 0, "queued")]
    d = tasks[1]
    assert d["handler"] == "h.d" and d["priority"] == 4 and d["max_attempts"] == 2
    assert d["attempts_count"] == 0 and d["claim_token"] is None
    assert d["available_at"] <= await db.value("select now()")


async def test_a_root_map_step_gets_one_task_per_element_of_the_run_input(
        store: Store, db: Db) -> None:
    flow = flow_of("f", ("m", [], {"map": True}), ("after", ["m"]))

    run_id = await start(store, flow, ["x", "y", "z"])

    tasks = await db.tasks(run_id)
    assert [(t["step_name"], t["task_index"]) for t in tasks] == [("m", 0), ("m", 1), ("m", 2)]
    m = await db.step(run_id, "m")
    assert m["remaining_tasks"] == 3 and m["initial_tasks"] == 3


async def test_a_child_run_records_its_parent_and_root(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []))
    parent = await start(store, flow, 1)
    child = await start(store, flow, 2, parent_run_id=parent)
    grandchild = await start(store, flow, 3, parent_run_id=child)

    row = await db.run(grandchild)
    assert row["parent_run_id"] == child
    assert row["root_run_id"] == parent


async def test_the_input_is_stored_as_given(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []))
    await store.add_flow(flow.hash, flow.to_definition())
    payload = {"text": "h\u00e9llo \u2603", "n": 1.5, "nested": [None, True, {"x": []}]}

    run_id = await store.start_run(flow.hash, json.dumps(payload))

    assert (await db.run(run_id))["input"] == payload
