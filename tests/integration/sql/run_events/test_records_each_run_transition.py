"""The runs trigger records run.started when a run is inserted and
run.completed / run.failed / run.cancelled when its status changes, with the
run's root so a tree of runs is one stream."""

from __future__ import annotations

from htdag.core.store import Store

from ..._event_support import kinds_of, table_events, where
from ..._support import Db, claim, complete, fail, flow_of, start


async def test_starting_a_run_records_run_started_with_itself_as_root(
        store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []))
    run_id = await start(store, flow, None)

    [started, step] = await table_events(db)
    assert (started["kind"], started["run_id"], started["root_run_id"]) == (
        "run.started", run_id, run_id)
    assert started["data"] == {"flow_hash": flow.hash, "parent_run_id": None}
    assert (step["kind"], step["step_name"], step["root_run_id"]) == ("step.started", "a", run_id)


async def test_child_and_grandchild_runs_carry_the_root_run_id(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []))
    root = await start(store, flow, None)
    child = await start(store, flow, None, parent_run_id=root)
    grandchild = await start(store, flow, None, parent_run_id=child)

    started = {r["run_id"]: r for r in await table_events(db) if r["kind"] == "run.started"}
    assert {r: e["root_run_id"] for r, e in started.items()} == {
        root: root, child: root, grandchild: root}
    assert started[child]["data"]["parent_run_id"] == str(root)
    assert started[grandchild]["data"]["parent_run_id"] == str(child)
    # every event of the tree, steps included, is under the root
    assert {r["root_run_id"] for r in await table_events(db)} == {root}


async def test_a_completed_run_records_run_completed_last(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)
    [task] = await claim(store)
    await complete(store, task, {"big": "x" * 1000})

    events = await table_events(db, run_id)
    assert kinds_of(events)[-2:] == ["step.completed", "run.completed"]
    assert events[-1]["data"] == {}  # the output stays in the run row


async def test_a_failed_run_records_run_failed_with_its_error(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)
    [task] = await claim(store)
    await fail(store, task, "broken beyond repair", retryable=False)

    [failed] = [e for e in await table_events(db, run_id) if e["kind"] == "run.failed"]
    assert failed["data"]["error"]["step"] == "a"
    assert failed["data"]["error"]["task_index"] == 0
    assert "broken beyond repair" in failed["data"]["error"]["message"]


async def test_cancelling_records_run_cancelled_once_and_cascades_to_children(
        store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []))
    root = await start(store, flow, None)
    child = await start(store, flow, None, parent_run_id=root)

    assert await store.cancel_run(root) == "cancelled"
    assert await store.cancel_run(root) == "cancelled"  # already ended: nothing new
    assert await store.cancel_run(child) == "cancelled"

    cancelled = [(e["run_id"], e["root_run_id"]) for e in await table_events(db)
                 if e["kind"] == "run.cancelled"]
    assert cancelled == [(root, root), (child, root)]


async def test_a_run_that_changes_without_changing_status_records_nothing(
        store: Store, db: Db) -> None:
    # remaining_steps goes down as steps complete: no event for that.
    run_id = await start(store, flow_of("f", ("a", []), ("b", ["a"])), None)
    [task] = await claim(store)
    await complete(store, task, 1)

    assert where(await table_events(db, run_id)) == [
        ("run.started", None, None), ("step.started", "a", None), ("task.started", "a", 0),
        ("task.completed", "a", 0), ("step.completed", "a", None), ("step.started", "b", None)]
