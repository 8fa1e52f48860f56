"""A step starts when its last dependency completes, not before."""

from __future__ import annotations

from htdag.core.store import Store

from ..._support import Db, by_step, claim, complete, flow_of, start


async def test_a_step_starts_only_when_every_dependency_has_completed(
        store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []), ("b", []), ("c", ["a", "b"]), ("d", ["c"]))
    run_id = await start(store, flow, "in")
    roots = by_step(await claim(store))

    await complete(store, roots["a", 0], "A")

    c = await db.step(run_id, "c")
    assert (c["status"], c["remaining_deps"]) == ("created", 1)
    assert await claim(store) == []
    assert (await db.run(run_id))["remaining_steps"] == 3

    await complete(store, roots["b", 0], "B")

    c = await db.step(run_id, "c")
    assert (c["status"], c["remaining_deps"], c["remaining_tasks"]) == ("started", 0, 1)
    assert (await db.step(run_id, "d"))["status"] == "created"
    [task] = await claim(store)
    assert (task.step_name, task.input) == ("c", {"run": "in", "a": "A", "b": "B"})
    assert (await db.run(run_id))["remaining_steps"] == 2


async def test_a_map_dependency_with_an_empty_output_completes_its_map_dependent(
        store: Store, db: Db) -> None:
    flow = flow_of("f", ("load", []), ("m", ["load"], {"map": True}), ("after", ["m"]))
    run_id = await start(store, flow, None)
    [load] = await claim(store)

    await complete(store, load, [])

    assert (await db.step(run_id, "m"))["output"] == []
    [after] = await claim(store)
    assert after.input == {"run": None, "m": []}


async def test_a_map_dependent_of_a_non_array_output_fails_the_run(store: Store, db: Db) -> None:
    flow = flow_of("f", ("load", []), ("other", []), ("m", ["load"], {"map": True}))
    run_id = await start(store, flow, None)
    tasks = by_step(await claim(store))

    await complete(store, tasks["load", 0], {"not": "a list"})

    run = await db.run(run_id)
    assert run["status"] == "failed"
    assert run["error"]["step"] == "m"
    assert "make its dependency return a list" in run["error"]["message"]
    assert (await db.task(run_id, "other"))["status"] == "cancelled"
    assert await complete(store, tasks["other", 0], "late") == []
