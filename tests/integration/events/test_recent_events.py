"""get_recent_events(): history in stream order, oldest first: the latest N, or
what follows an id; of one run's tree, or of some kinds."""

from __future__ import annotations

import uuid
from typing import Any

from htdag import Flow
from htdag.core.engine import AsyncEngine
from htdag.notifications import aget_recent_events, aset_task_events

from .._support import Db, running_worker
from ._listening import ids, kinds


def echo_flow() -> Flow:
    flow = Flow("echo")

    @flow.step()
    def echo(inp: Any) -> Any:
        return inp

    return flow


async def three_runs(engine: AsyncEngine) -> list[uuid.UUID]:
    flow = echo_flow()
    runs = [await engine.start(flow, n) for n in range(2)]
    runs.append(await engine.start(flow, "child", parent_run_id=runs[0].run_id))
    async with running_worker(engine, [flow]):
        for run in runs:
            await run.wait(10)
    return [r.run_id for r in runs]


async def all_ids(db: Db) -> list[int]:
    return [r["event_id"] for r in await db.rows(
        "select event_id from htdag.events order by tx_id, event_id")]


async def test_the_latest_n_events_come_oldest_first(engine: AsyncEngine, db: Db) -> None:
    await three_runs(engine)
    every = await all_ids(db)

    assert ids(await aget_recent_events(engine, limit=5)) == every[-5:]
    assert ids(await aget_recent_events(engine, limit=10_000)) == every
    assert ids(await aget_recent_events(engine)) == every[-100:]


async def test_since_id_gives_the_events_after_it_up_to_the_limit(
        engine: AsyncEngine, db: Db) -> None:
    await three_runs(engine)
    every = await all_ids(db)

    assert ids(await aget_recent_events(engine, since_id=every[3], limit=4)) == every[4:8]
    assert ids(await aget_recent_events(engine, since_id=every[-1])) == []
    assert ids(await aget_recent_events(engine, since_id=0, limit=2)) == every[:2]


async def test_since_an_id_no_longer_in_the_log_gives_the_later_ids(
        engine: AsyncEngine, db: Db) -> None:
    await three_runs(engine)
    every = await all_ids(db)
    await db.execute("delete from htdag.events where event_id <= %s", (every[5],))

    assert ids(await aget_recent_events(engine, since_id=every[4], limit=3)) == every[6:9]


async def test_kinds_filter_history_by_kind_or_category(engine: AsyncEngine) -> None:
    await three_runs(engine)

    runs = await aget_recent_events(engine, kinds="run")
    assert kinds(runs) and set(kinds(runs)) == {"run.started", "run.completed"}
    assert kinds(runs).count("run.completed") == 3
    mixed = await aget_recent_events(engine, kinds=["worker", "task.completed"])
    assert set(kinds(mixed)) == {"worker.joined", "worker.stopped", "task.completed"}


async def test_a_run_id_gives_that_run_and_its_child_runs(engine: AsyncEngine) -> None:
    parent, other, child = await three_runs(engine)

    tree = await aget_recent_events(engine, parent, limit=1000)
    assert {e.run_id for e in tree} == {parent, child}
    assert len(tree) == 13  # 6 per run, and the parent's subgoal.completed
    only_child = await aget_recent_events(engine, str(child))  # ids as strings work too
    assert {e.run_id for e in only_child} == {child}
    latest_of_other = await aget_recent_events(engine, other, limit=2, kinds="step")
    assert [(e.kind, e.run_id) for e in latest_of_other] == [
        ("step.started", other), ("step.completed", other)]


async def test_history_events_have_all_their_fields(engine: AsyncEngine) -> None:
    parent, _, _ = await three_runs(engine)

    started = (await aget_recent_events(engine, parent, kinds="task.started"))[0]
    assert (started.run_id, started.root_run_id, started.step, started.task_index) == (
        parent, parent, "echo", 0)
    assert started.created_at is not None
    # attempt and worker_id are columns of the row; data shows them as before.
    assert set(started.data) == {"attempt", "worker_id"} and started.data["attempt"] == 1
    completed = (await aget_recent_events(engine, parent, kinds="task.completed"))[0]
    assert completed.data == {"attempt": 1}


async def test_rows_that_keep_the_attempt_in_data_read_the_same(
        engine: AsyncEngine, db: Db) -> None:
    """Task events written before 0050 carry attempt and worker_id in data."""
    worker = uuid.uuid4()
    await db.execute(
        "insert into htdag.events (kind, step_name, task_index, data)"
        " values ('task.started', 's', 0, %s)",
        (f'{{"attempt": 2, "worker_id": "{worker}"}}',))

    [old] = await aget_recent_events(engine, kinds="task.started")
    assert old.data == {"attempt": 2, "worker_id": str(worker)}


async def test_switching_task_events_off_leaves_run_and_step_history(
        engine: AsyncEngine) -> None:
    await aset_task_events(engine, False)
    assert await engine.store.get_setting("task_events") is False
    parent, _, child = await three_runs(engine)

    history = await aget_recent_events(engine, parent)
    assert sorted(kinds(history)) == sorted(
        ["run.started", "step.started", "step.completed", "run.completed"] * 2
        + ["subgoal.completed"])
    assert {e.run_id for e in history} == {parent, child}
    assert await aget_recent_events(engine, kinds="task") == []

    await aset_task_events(engine, True)
    await three_runs(engine)
    assert len(await aget_recent_events(engine, kinds="task", limit=1000)) == 6
