"""Hierarchical subgoals: goal tasks become child runs that their task waits
for without a worker slot; depth and task budgets stop runaway recursion; a
child's failure fails its parent task (whose retry policy applies); cancelling
the root cancels the tree; the tree can be queried."""

from __future__ import annotations

import asyncio
import time

import pytest

from htdag import Planner
from htdag.composer import acompose_from_goal
from htdag.core.engine import AsyncEngine
from htdag.errors import RunCancelled, RunFailed
from htdag.flows import RunStatus
from htdag.progress import run_tree

from .._support import Db, eventually, running_worker
from ._planning import World


def worker_handlers(world: World) -> dict[str, object]:
    return Planner(world.rules, world.registry).worker_handlers()


async def test_a_subgoal_two_levels_deep(engine: AsyncEngine, world: World, db: Db) -> None:
    result = await acompose_from_goal("deep x", engine=engine, decomposer=world.rules,
                                      handlers=world.registry, timeout=20)
    assert result.output == {"deep": {"mid": "x"}}
    root = result.run_id

    # The tree: root (depth 0) -> child (1) -> grandchild (2), all with the same root.
    [child] = await engine.list_runs(parent_run_id=root)
    [grandchild] = await engine.list_runs(parent_run_id=child.run_id)
    assert await engine.list_runs(parent_run_id=grandchild.run_id) == []
    assert [(r.depth, r.root_run_id) for r in (child, grandchild)] == [(1, root), (2, root)]
    assert (await db.run(root))["depth"] == 0 and (await db.run(root))["root_run_id"] == root
    assert child.input["goal"] == "mid x" and grandchild.input["goal"] == "leaf x"
    assert child.output == {"mid": "x"} and grandchild.output == "x"

    # Each child names the task that waited for it; that task completed with its output.
    middle = await db.task(root, "middle")
    lower = await db.task(child.run_id, "lower")
    assert (child.parent_task_id, grandchild.parent_task_id) == (middle["task_id"],
                                                                 lower["task_id"])
    assert (middle["status"], middle["waiting_for_run_id"], middle["attempts_count"]) == (
        "completed", child.run_id, 1)
    assert middle["output"] == {"mid": "x"}

    tree = await run_tree(engine, root)
    assert [d.run.run_id for d in tree] == [root, child.run_id, grandchild.run_id]

    # Each parent heard its subgoal end, after the child's own run.completed.
    ended = await db.rows("select kind, run_id, root_run_id, data from htdag.events"
                          " where kind like 'subgoal.%%' order by event_id")
    assert [(e["kind"], e["run_id"], e["data"].get("child_run_id")) for e in ended
            if e["kind"] != "subgoal.submitted"] == [
        ("subgoal.completed", child.run_id, str(grandchild.run_id)),
        ("subgoal.completed", root, str(child.run_id))]
    assert {e["root_run_id"] for e in ended} == {root}


async def test_the_depth_limit_fails_clearly_and_quickly(engine: AsyncEngine, world: World,
                                                         db: Db) -> None:
    started = time.monotonic()
    with pytest.raises(RunFailed) as info:
        await acompose_from_goal("nest 12", engine=engine, decomposer=world.rules,
                                 handlers=world.registry, timeout=30)
    assert time.monotonic() - started < 15  # no retries of a limit at any level
    message = str(info.value)
    assert "SubgoalLimitError: subgoal depth limit reached" in message
    assert "is at depth 10, the limit is 10" in message
    assert "raise max_depth" in message
    runs = await db.rows("select depth, status::text as status from htdag.runs order by depth")
    assert [(r["depth"], r["status"]) for r in runs] == [(d, "failed") for d in range(11)]
    attempts = await db.rows("select attempts_count from htdag.tasks")
    assert {a["attempts_count"] for a in attempts} == {1}


async def test_the_root_run_s_max_depth_is_the_limit_whichever_worker_runs_it(
        engine: AsyncEngine, world: World, db: Db) -> None:
    shallow = Planner(world.rules, world.registry, max_depth=2, engine=engine)
    async with running_worker(engine, worker_handlers(world), max_depth=10):
        assert (await shallow.acompose("nest 2", timeout=20)).output == "bottom"
        with pytest.raises(RunFailed, match="is at depth 2, the limit is 2"):
            await shallow.acompose("nest 3", start_worker=False, timeout=20)
    # A worker's own max_depth is only the fallback for roots that keep none.
    deep = Planner(world.rules, world.registry, max_depth=10, engine=engine)
    async with running_worker(engine, worker_handlers(world), max_depth=2):
        assert (await deep.acompose("nest 3", start_worker=False, timeout=20)).output == \
            "bottom"
    roots = await db.rows("select max_depth from htdag.runs where depth = 0"
                          " order by started_at")
    assert [r["max_depth"] for r in roots] == [2, 2, 10]


async def test_a_planner_s_max_depth_limits_subgoals(engine: AsyncEngine, world: World) -> None:
    planner = Planner(world.rules, world.registry, max_depth=2, engine=engine)
    with pytest.raises(RunFailed, match="the limit is 2"):
        await planner.acompose("nest 4", timeout=20)


async def test_the_task_budget_of_a_root_run(engine: AsyncEngine, world: World,
                                             db: Db) -> None:
    # search (1) + the map's items step (1) + summarize (3) would be 5 > 4.
    with pytest.raises(RunFailed) as info:
        await acompose_from_goal("research pg", engine=engine, decomposer=world.rules,
                                 handlers=world.registry, max_tasks=4, timeout=20)
    assert info.value.step == "summarize"
    assert "task budget exceeded: step 'summarize' needs 3 tasks, over the maximum" in str(
        info.value)
    assert "raise max_tasks or plan a smaller graph" in str(info.value)
    run = await db.run(info.value.run_id)
    assert (run["max_tasks"], run["tasks_created"]) == (4, 2)


async def test_the_task_budget_covers_the_whole_tree(engine: AsyncEngine, world: World,
                                                     db: Db) -> None:
    # The root's two goal tasks (2) and one child research (6) fit in 8; the other
    # child's search does not.
    with pytest.raises(RunFailed, match="task budget exceeded") as info:
        await acompose_from_goal("compare pg with redis", engine=engine,
                                 decomposer=world.rules, handlers=world.registry, max_tasks=8,
                                 timeout=20)
    root = info.value.run_id
    assert info.value.step in ("left", "right")
    assert (await db.run(root))["tasks_created"] <= 8
    children = await engine.list_runs(parent_run_id=root)
    assert sorted(c.status.value for c in children) in (["completed", "failed"],
                                                        ["cancelled", "failed"],
                                                        ["failed", "running"])
    # A limit is not retried: the goal task failed on its first attempt.
    failed = await db.task(root, info.value.step)
    assert (failed["status"], failed["attempts_count"], failed["max_attempts"]) == (
        "failed", 1, 3)
    assert all(r["max_tasks"] is None for r in await db.rows(
        "select max_tasks from htdag.runs where parent_run_id is not null"))


async def test_a_one_slot_worker_runs_a_parent_whose_children_need_the_slot(
        engine: AsyncEngine, world: World, db: Db) -> None:
    async with running_worker(engine, worker_handlers(world), concurrency=1) as worker:
        compare = await acompose_from_goal(
            "compare pg with redis", engine=engine, decomposer=world.rules,
            handlers=world.registry, start_worker=False, timeout=20)
        assert compare.output == {"compared": ["pg", "redis"], "sources": 6}
        deep = await acompose_from_goal("deep y", engine=engine, decomposer=world.rules,
                                        handlers=world.registry, start_worker=False,
                                        timeout=20)
        assert deep.output == {"deep": {"mid": "y"}}
        assert [w.worker_id for w in await engine.list_workers()] == [worker.worker_id]
    # The goal tasks waited without their slot: they were claimed once, by that worker.
    waited = await db.rows("select attempts_count, worker_id from htdag.tasks"
                           " where waiting_for_run_id is not null")
    assert len(waited) == 4
    assert all(w["attempts_count"] == 1 and w["worker_id"] == worker.worker_id
               for w in waited)


async def test_a_child_failure_fails_the_parent_task_after_its_retries(
        engine: AsyncEngine, world: World, db: Db) -> None:
    with pytest.raises(RunFailed) as info:
        await acompose_from_goal("retry fail x", engine=engine, decomposer=world.rules,
                                 handlers=world.registry, timeout=20)
    root = info.value.run_id
    assert info.value.step == "sub"
    assert "child run" in info.value.error and "x failed (attempt 1)" in info.value.error
    assert "(attempt 2 of 2)" in info.value.error
    # The goal task's policy (max_attempts 2): two attempts, each with a child run of its own.
    attempts = await db.rows("select attempt, outcome from htdag.attempts a join htdag.tasks t"
                             " using (task_id) where t.run_id = %s and t.step_name = 'sub'"
                             " order by attempt", (root,))
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "failed"), (2, "failed")]
    children = await engine.list_runs(parent_run_id=root)
    assert [c.status for c in children] == [RunStatus.FAILED] * 2
    assert world.calls["fail"] == 2
    failed = await db.rows("select run_id, data from htdag.events"
                           " where kind = 'subgoal.failed' order by event_id")
    assert [(f["run_id"], f["data"]["child_run_id"]) for f in failed] == [
        (root, str(c.run_id)) for c in sorted(children, key=lambda c: c.started_at)]
    assert all("x failed" in f["data"]["error"]["message"] for f in failed)


async def test_a_parent_task_retry_can_succeed(engine: AsyncEngine, world: World,
                                               db: Db) -> None:
    result = await acompose_from_goal("retry flaky y", engine=engine, decomposer=world.rules,
                                      handlers=world.registry, timeout=20)
    assert result.output == "y worked"
    sub = await db.task(result.run_id, "sub")
    assert sub["attempts_count"] == 2
    children = await engine.list_runs(parent_run_id=result.run_id)
    assert sorted(c.status.value for c in children) == ["completed", "failed"]
    assert sub["waiting_for_run_id"] == next(c.run_id for c in children
                                             if c.status is RunStatus.COMPLETED)


async def test_cancelling_the_root_cancels_its_children(engine: AsyncEngine, world: World,
                                                        db: Db) -> None:
    result = await acompose_from_goal("hang h", engine=engine, decomposer=world.rules,
                                      handlers=world.registry, wait=False)
    root = result.run_id
    try:
        await asyncio.wait_for(world.event("h").wait(), 10)  # the child's handler runs
        [child] = await engine.list_runs(parent_run_id=root)
        # (The worker records that the goal task waits just after the child started.)
        await eventually(lambda: _status(db, root, "sub", "waiting"))
    finally:
        assert await engine.cancel(root) is RunStatus.CANCELLED
    with pytest.raises(RunCancelled):
        await engine.wait(root, timeout=5)
    assert (await engine.status(child.run_id)).run.status is RunStatus.CANCELLED
    tasks = await db.rows("select run_id, step_name, status::text as status from htdag.tasks"
                          " order by run_id = %s desc", (root,))
    assert {(t["run_id"], t["step_name"], t["status"]) for t in tasks} == {
        (root, "sub", "cancelled"), (child.run_id, "wait", "cancelled")}
    steps = await db.rows("select status::text as status from htdag.step_states"
                          " where run_id = %s and step_name = 'after'", (root,))
    assert steps == [{"status": "cancelled"}]
    # The running handler was told: its coroutine was cancelled.
    await eventually(lambda: world.calls["block_cancelled"] == 1)
    assert world.calls["leaf"] == 0
    [ended] = await db.rows("select run_id, data from htdag.events where kind = 'subgoal.failed'")
    assert ended["run_id"] == root
    assert ended["data"] == {"child_run_id": str(child.run_id), "cancelled": True,
                             "parent_task_id": (await db.task(root, "sub"))["task_id"]}


async def test_cancelling_a_child_fails_its_waiting_parent_task(
        engine: AsyncEngine, world: World, db: Db) -> None:
    result = await acompose_from_goal("hang k", engine=engine, decomposer=world.rules,
                                      handlers=world.registry, wait=False)
    try:
        await asyncio.wait_for(world.event("k").wait(), 10)
        [child] = await engine.list_runs(parent_run_id=result.run_id)
        await eventually(lambda: _status(db, result.run_id, "sub", "waiting"))
        await engine.cancel(child.run_id)
        # The parent task fails its attempt ("child run ... cancelled") and is retried
        # (after its base delay of 1 s): a new child starts, which blocks again.
        await eventually(lambda: _children(engine, result.run_id, 2), timeout=10)
        sub = await db.task(result.run_id, "sub")
        assert sub["attempts_count"] == 2
        first = await db.row("select error from htdag.attempts where task_id = %s"
                             " and attempt = 1", (sub["task_id"],))
        assert f"child run {child.run_id} cancelled" in first["error"]
    finally:
        await engine.cancel(result.run_id)


async def _status(db: Db, run_id: object, step: str, status: str) -> bool:
    return bool((await db.task(run_id, step))["status"] == status)  # type: ignore[arg-type]


async def _children(engine: AsyncEngine, run_id: object, count: int) -> bool:
    return len(await engine.list_runs(parent_run_id=run_id)) >= count  # type: ignore[arg-type]


async def test_a_goal_task_s_goal_can_reference_an_output(engine: AsyncEngine,
                                                          world: World) -> None:
    from htdag.composer import acompose_from_task_graph

    graph = {"goal": "chosen subgoal", "tasks": [
        {"id": "pick", "handler": "leaf", "params": {"value": "leaf z"}},
        {"id": "sub", "kind": "goal", "description": "the subgoal pick chose",
         "params": {"goal": "$pick"}, "options": {"max_attempts": 1}}]}
    result = await acompose_from_task_graph(graph, engine=engine, handlers=world.registry,
                                            timeout=20)
    assert result.output == "z"
