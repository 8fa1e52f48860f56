"""A root map step over an empty run input completes at once with [], and so
does the run when nothing else is left."""

from __future__ import annotations

from htdag.core.store import Store

from ..._support import Db, flow_of, start


async def test_a_root_map_over_an_empty_array_completes_the_run_with_an_empty_list(
        store: Store, db: Db) -> None:
    flow = flow_of("f", ("m", [], {"map": True}))

    run_id = await start(store, flow, [])

    run = await db.run(run_id)
    assert run["status"] == "completed"
    assert run["output"] == {"m": []}
    assert run["remaining_steps"] == 0
    m = await db.step(run_id, "m")
    assert m["status"] == "completed" and m["output"] == [] and m["initial_tasks"] == 0
    assert await db.tasks(run_id) == []


async def test_an_empty_root_map_starts_its_dependents(store: Store, db: Db) -> None:
    flow = flow_of("f", ("m", [], {"map": True}), ("after", ["m"]), ("m2", ["m"], {"map": True}))

    run_id = await start(store, flow, [])

    assert (await db.step(run_id, "m"))["status"] == "completed"
    # m2 maps over m's output, [] again: it completes too; "after" waits for a worker.
    assert (await db.step(run_id, "m2"))["output"] == []
    tasks = await db.tasks(run_id)
    assert [(t["step_name"], t["status"]) for t in tasks] == [("after", "queued")]
    run = await db.run(run_id)
    assert run["status"] == "running" and run["remaining_steps"] == 1
