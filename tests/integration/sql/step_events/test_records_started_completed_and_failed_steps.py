"""The step_states trigger records step.started (with the number of tasks),
step.completed and step.failed; a cancelled step is told by its run's event."""

from __future__ import annotations

from htdag.core.store import Store

from ..._event_support import table_events, where
from ..._support import Db, by_step, claim, complete, fail, flow_of, start


async def test_a_started_step_says_how_many_tasks_it_has(store: Store, db: Db) -> None:
    flow = flow_of("f", ("one", []), ("many", [], {"map": True}))
    run_id = await start(store, flow, [10, 20, 30])

    steps = {e["step_name"]: e["data"] for e in await table_events(db, run_id)
             if e["kind"] == "step.started"}
    assert steps == {"one": {"tasks": 1}, "many": {"tasks": 3}}


async def test_steps_complete_then_their_dependents_start_in_order(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []), ("b", ["a"]), ("c", ["b"]))
    run_id = await start(store, flow, None)
    for _ in range(3):
        [task] = await claim(store)
        await complete(store, task, task.step_name)

    steps = [(k, s) for k, s, _ in where(await table_events(db, run_id)) if k.startswith("step.")]
    assert steps == [("step.started", "a"), ("step.completed", "a"),
                     ("step.started", "b"), ("step.completed", "b"),
                     ("step.started", "c"), ("step.completed", "c")]


async def test_a_map_over_an_empty_array_starts_and_completes_at_once(
        store: Store, db: Db) -> None:
    flow = flow_of("f", ("m", [], {"map": True}), ("after", ["m"]))
    run_id = await start(store, flow, [])

    assert where(await table_events(db, run_id)) == [
        ("run.started", None, None), ("step.started", "m", None),
        ("step.completed", "m", None), ("step.started", "after", None)]
    assert (await table_events(db, run_id))[1]["data"] == {"tasks": 0}


async def test_a_failed_step_records_step_failed_with_the_error(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [], {"max_attempts": 1})), None)
    [task] = await claim(store)
    await fail(store, task, "disk full")

    [failed] = [e for e in await table_events(db, run_id) if e["kind"] == "step.failed"]
    assert failed["step_name"] == "a"
    assert failed["data"]["error"] == "disk full (attempt 1 of 1)"


async def test_a_root_map_over_a_non_array_records_its_step_failed(
        store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("m", [], {"map": True})), {"not": "a list"})

    kinds = {e["kind"]: e for e in await table_events(db, run_id)}
    assert set(kinds) == {"run.started", "run.failed", "step.failed"}
    assert "needs an array" in kinds["step.failed"]["data"]["error"]


async def test_cancelled_steps_record_nothing_of_their_own(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []), ("b", ["a"]), ("c", [], {"map": True}))
    run_id = await start(store, flow, [1, 2])
    claimed = by_step(await claim(store, handlers=["h.a"]))
    assert list(claimed) == [("a", 0)]
    before = len(await table_events(db, run_id))

    await store.cancel_run(run_id)

    after = await table_events(db, run_id)
    assert [e["kind"] for e in after[before:]] == ["run.cancelled"]
    assert await complete(store, claimed["a", 0], "late") == []
    assert len(await table_events(db, run_id)) == before + 1
