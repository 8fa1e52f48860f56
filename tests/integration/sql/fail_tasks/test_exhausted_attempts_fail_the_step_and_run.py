"""The last attempt's failure fails the task, its step and its run; the run's
other queued and started tasks are cancelled, never left queued."""

from __future__ import annotations

from htdag.core.store import Store

from ..._support import Db, by_step, claim, complete, fail, flow_of, start


async def test_exhausted_attempts_fail_the_step_and_run_and_cancel_the_rest(
        store: Store, db: Db) -> None:
    flow = flow_of("f", ("m", [], {"map": True, "max_attempts": 2, "base_delay": 0}),
                   ("after", ["m"]), ("side", [], {"priority": -1}))
    run_id = await start(store, flow, [1, 2, 3, 4])
    tasks = by_step(await claim(store, limit=3))  # m[0..2] started; m[3] and side queued
    assert set(tasks) == {("m", 0), ("m", 1), ("m", 2)}
    await complete(store, tasks["m", 2], "done")
    await fail(store, tasks["m", 0], "first")
    [again] = await claim(store, limit=1)
    assert (again.step_name, again.task_index, again.attempt) == ("m", 0, 2)

    assert await fail(store, again, "ValueError: still broken") == [again.task_id]

    run = await db.run(run_id)
    assert run["status"] == "failed"
    assert run["failed_at"] is not None
    assert run["error"] == {"step": "m", "task_index": 0,
                            "message": "ValueError: still broken (attempt 2 of 2)"}
    states = {s["step_name"]: s for s in await db.rows(
        "select * from htdag.step_states where run_id = %s", (run_id,))}
    assert states["m"]["status"] == "failed"
    assert states["m"]["error"] == "ValueError: still broken (attempt 2 of 2)"
    assert states["after"]["status"] == "cancelled"
    assert states["side"]["status"] == "cancelled"
    rows = {(t["step_name"], t["task_index"]): t for t in await db.tasks(run_id)}
    assert {k: t["status"] for k, t in rows.items()} == {
        ("m", 0): "failed", ("m", 1): "cancelled", ("m", 2): "completed",
        ("m", 3): "cancelled", ("side", 0): "cancelled"}
    assert all(t["claim_token"] is None for t in rows.values())
    assert await claim(store) == []
    # the started task's worker learns it lost the task: its completion is rejected
    assert await complete(store, tasks["m", 1], "late") == []
