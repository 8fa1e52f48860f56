"""When its last step completes, a run completes with an object of the outputs
of its leaf steps (those nothing depends on), keyed by step name."""

from __future__ import annotations

from htdag.core.store import Store

from ..._support import Db, by_step, claim, complete, flow_of, start


async def test_the_run_output_holds_the_leaf_outputs_only(store: Store, db: Db) -> None:
    flow = flow_of("f", ("root", []), ("left", ["root"]), ("right", ["root"]),
                   ("lonely", []))
    run_id = await start(store, flow, None)
    roots = by_step(await claim(store))
    await complete(store, roots["root", 0], "R")
    await complete(store, roots["lonely", 0], {"alone": True})
    branches = by_step(await claim(store))
    await complete(store, branches["left", 0], [1])
    assert (await db.run(run_id))["status"] == "running"

    await complete(store, branches["right", 0], None)

    run = await db.run(run_id)
    assert run["status"] == "completed"
    assert run["output"] == {"left": [1], "right": None, "lonely": {"alone": True}}
    assert run["remaining_steps"] == 0
    assert run["completed_at"] is not None
    states = await db.rows("select status from htdag.step_states where run_id = %s", (run_id,))
    assert {s["status"] for s in states} == {"completed"}
