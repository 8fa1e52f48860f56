"""Runs driven by a real worker: each transition is one event, in the order it
happened, read back through listen() and equal to the table."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from htdag import Flow, NonRetryableError
from htdag.core.engine import AsyncEngine
from htdag.core.store import Store
from htdag.notifications import Event, aget_recent_events, alisten

from .._event_support import table_ids
from .._support import WORKER_A, Db, claim, running_worker
from ._listening import collect, kinds, of_run


async def run_events(engine: AsyncEngine, run_id: uuid.UUID) -> list[Event]:
    """The whole stream of a run's tree, from its start until it ends."""
    return await collect(alisten(engine, run_id, since=0, until_done=True))


async def test_a_single_step_run_emits_started_then_completed_events(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("single")

    @flow.step()
    def only(inp: Any) -> str:
        return "done"

    async with running_worker(engine, [flow]) as worker:
        run = await engine.start(flow, None)
        events = await run_events(engine, run.run_id)

    assert kinds(events) == ["run.started", "step.started", "task.started", "task.completed",
                             "step.completed", "run.completed"]
    assert [e.id for e in events] == await table_ids(db, run.run_id)
    assert all(e.run_id == e.root_run_id == run.run_id for e in events)
    assert events[2].data == {"attempt": 1, "worker_id": str(worker.worker_id)}
    assert (events[2].step, events[2].task_index) == ("only", 0)
    assert events[0].created_at <= events[-1].created_at


async def test_a_map_run_emits_one_task_event_per_element(engine: AsyncEngine, db: Db) -> None:
    flow = Flow("mapped")

    @flow.step(map=True)
    async def square(x: int) -> int:
        await asyncio.sleep(0.01 * (3 - x))  # finish in another order
        return x * x

    @flow.step(depends_on=["square"])
    def total(inp: Any) -> int:
        return sum(inp["square"])

    async with running_worker(engine, [flow]):
        run = await engine.start(flow, [0, 1, 2])
        events = await run_events(engine, run.run_id)

    assert [(e.kind, e.step) for e in events if not e.kind.startswith("task.")] == [
        ("run.started", None), ("step.started", "square"), ("step.completed", "square"),
        ("step.started", "total"), ("step.completed", "total"), ("run.completed", None)]
    assert events[1].data == {"tasks": 3}
    tasks = [(e.kind, e.task_index) for e in events if e.step == "square"
             and e.kind.startswith("task.")]
    assert sorted(tasks) == sorted([("task.started", i) for i in range(3)]
                                   + [("task.completed", i) for i in range(3)])
    for i in range(3):  # each task starts before it completes
        assert tasks.index(("task.started", i)) < tasks.index(("task.completed", i))
    positions = {(e.kind, e.step): n for n, e in enumerate(events) if not e.kind.startswith("t")}
    square_tasks = [n for n, e in enumerate(events)
                    if e.step == "square" and e.task_index is not None]
    assert positions["step.started", "square"] < min(square_tasks)
    assert max(square_tasks) < positions["step.completed", "square"]
    assert [e.id for e in events] == await table_ids(db, run.run_id)


async def test_a_retried_task_emits_retrying_then_starts_again(engine: AsyncEngine) -> None:
    flow = Flow("flaky")
    calls = 0

    @flow.step(base_delay=0.01, max_delay=0.01, max_attempts=3)
    def wobbly(inp: Any) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("reset by peer")
        return "ok"

    async with running_worker(engine, [flow]):
        run = await engine.start(flow, None)
        events = await run_events(engine, run.run_id)

    assert kinds(events) == ["run.started", "step.started", "task.started", "task.retrying",
                             "task.started", "task.completed", "step.completed", "run.completed"]
    assert events[3].data["attempt"] == 1
    assert events[3].data["error"] == "ConnectionError: reset by peer"
    assert events[4].data["attempt"] == 2


async def test_a_task_whose_worker_died_times_out_and_is_run_again(
        engine: AsyncEngine, store: Store) -> None:
    flow = Flow("orphan")

    @flow.step(base_delay=0.01, max_delay=0.01)
    def adopted(inp: Any) -> str:
        return "ok"

    run = await engine.start(flow, None)
    # A worker that claims the task and dies: its lease runs out.
    [task] = await claim(store, worker=WORKER_A, lease=0.2)
    assert task.run_id == run.run_id
    await asyncio.sleep(0.25)
    async with running_worker(engine, [flow]) as worker:
        events = await run_events(engine, run.run_id)

    assert kinds(events) == ["run.started", "step.started", "task.started", "task.lost",
                             "task.retrying", "task.started", "task.completed", "step.completed",
                             "run.completed"]
    assert events[2].data["worker_id"] == events[3].data["worker_id"] == str(WORKER_A)
    assert "lease expired" in events[3].data["error"]
    assert events[5].data == {"attempt": 2, "worker_id": str(worker.worker_id)}


async def test_a_non_retryable_failure_emits_task_step_and_run_failed(
        engine: AsyncEngine) -> None:
    flow = Flow("doomed")

    @flow.step()
    def refuse(inp: Any) -> None:
        raise NonRetryableError("the input is wrong")

    async with running_worker(engine, [flow]):
        run = await engine.start(flow, None)
        await asyncio.wait_for(asyncio.gather(run.wait(), return_exceptions=True), 10)
        events = await aget_recent_events(engine, run.run_id)

    assert kinds(events)[:4] == ["run.started", "step.started", "task.started", "task.failed"]
    assert sorted(kinds(events)[4:]) == ["run.failed", "step.failed"]
    assert "the input is wrong" in events[3].data["error"]


async def test_a_cancelled_run_emits_run_cancelled_and_nothing_after(
        engine: AsyncEngine) -> None:
    flow = Flow("halted")
    entered = asyncio.Event()

    @flow.step(map=True)
    async def forever(inp: Any) -> None:
        entered.set()
        await asyncio.sleep(60)

    async with running_worker(engine, [flow], concurrency=1):
        run = await engine.start(flow, [1, 2, 3])
        await asyncio.wait_for(entered.wait(), 5)
        await engine.cancel(run.run_id)
        events = await run_events(engine, run.run_id)
        await asyncio.sleep(0.2)
        later = await aget_recent_events(engine, run.run_id)

    assert kinds(events) == ["run.started", "step.started", "task.started", "run.cancelled"]
    assert later == events


async def test_a_worker_emits_joined_when_it_starts_and_stopped_when_it_stops(
        engine: AsyncEngine) -> None:
    flow = Flow("idle")

    @flow.step()
    def nothing(inp: Any) -> None:
        return None

    async with running_worker(engine, [flow], concurrency=3) as worker:
        pass

    events = await aget_recent_events(engine, kinds="worker")
    assert [(e.kind, e.data["worker_id"]) for e in events] == [
        ("worker.joined", str(worker.worker_id)), ("worker.stopped", str(worker.worker_id))]
    assert events[0].data["concurrency"] == 3
    assert events[0].run_id is None and events[0].root_run_id is None


async def test_a_silent_worker_is_reported_lost_by_a_peers_heartbeat(
        engine: AsyncEngine, store: Store) -> None:
    flow = Flow("watchful")

    @flow.step()
    def nothing(inp: Any) -> None:
        return None

    silent = uuid.uuid4()
    await store.register_worker(silent, "gone-host", 99, ["x"], 1, 0.3)
    lost = alisten(engine, kinds="worker.lost", since=0)
    # A peer with a short lease heartbeats every 0.2 s: one of them finds the silent one.
    async with running_worker(engine, [flow], lease_seconds=0.6):
        [event] = await collect(lost, count=1, timeout=5)

    assert event.kind == "worker.lost"
    assert (event.data["worker_id"], event.data["hostname"]) == (str(silent), "gone-host")


async def test_child_runs_carry_their_root_run_id(engine: AsyncEngine, db: Db) -> None:
    flow = Flow("tree")

    @flow.step()
    def leaf(inp: Any) -> Any:
        return inp

    root = await engine.start(flow, "root")
    child = await engine.start(flow, "child", parent_run_id=root.run_id)
    grandchild = await engine.start(flow, "grandchild", parent_run_id=child.run_id)
    other = await engine.start(flow, "other")
    async with running_worker(engine, [flow]):
        for run in (root, child, grandchild, other):
            await run.wait(10)

    events = await aget_recent_events(engine, limit=1000)
    roots = {e.run_id: e.root_run_id for e in events if e.run_id is not None}
    assert roots == {root.run_id: root.run_id, child.run_id: root.run_id,
                     grandchild.run_id: root.run_id, other.run_id: other.run_id}
    tree = [e for e in events if e.root_run_id == root.run_id]
    assert len(of_run(tree, grandchild.run_id)) == 6
    started = {e.run_id: e.data["parent_run_id"] for e in events if e.kind == "run.started"}
    assert started[grandchild.run_id] == str(child.run_id)
    assert started[root.run_id] is None


async def test_outputs_never_appear_in_events(engine: AsyncEngine, db: Db) -> None:
    flow = Flow("heavy")
    marker = "OUTPUT-" + uuid.uuid4().hex

    @flow.step()
    def produce(inp: Any) -> dict[str, str]:
        return {"marker": marker, "blob": "z" * (10 * 1024 * 1024)}

    @flow.step(depends_on=["produce"])
    def consume(inp: Any) -> str:
        return marker + str(len(inp["produce"]["blob"]))

    async with running_worker(engine, [flow]):
        run = await engine.start(flow, {"input": marker})
        events = await run_events(engine, run.run_id)
        assert (await run.wait(10))["consume"] == marker + str(10 * 1024 * 1024)

    assert kinds(events)[-1] == "run.completed"
    assert all(marker not in str(e.data) for e in events)
    assert all(len(str(e.to_json())) < 500 for e in events)
    assert await db.value("select max(pg_column_size(data)) from htdag.events") < 200
