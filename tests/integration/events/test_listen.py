"""listen(): events live and in order, for everything, one run's tree, or some
kinds; replay from an event id; clear errors for what does not exist."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import psycopg
import pytest

import htdag
import htdag.events
from htdag import Flow
from htdag.core.engine import AsyncEngine
from htdag.errors import UnknownRunError
from htdag.notifications import (
    UnknownEventError,
    UnknownEventKindError,
    aget_recent_events,
    alisten,
    get_recent_events,
    listen,
)
from htdag.notifications.hub import EventHub, hub_for

from .._event_support import last_event_id, table_ids
from .._support import Db, eventually, running_worker
from ._listening import collect, ids, kinds, of_run, subscribed, subscriber_count


def gated_flow(name: str = "gated") -> tuple[Flow, asyncio.Event]:
    """A flow whose first step waits for a gate, then a map of three."""
    flow = Flow(name)
    gate = asyncio.Event()

    @flow.step(handler=f"{name}.wait")
    async def wait(inp: Any) -> list[int]:
        await gate.wait()
        return [1, 2, 3]

    @flow.step(depends_on=["wait"], map=True, handler=f"{name}.double")
    def double(x: int) -> int:
        return 2 * x

    return flow, gate


def quick_flow(name: str = "quick") -> Flow:
    flow = Flow(name)

    @flow.step(handler=f"{name}.echo")
    def echo(inp: Any) -> Any:
        return inp

    return flow


def finished(run_id: uuid.UUID) -> Any:
    return lambda e: e.run_id == run_id and e.kind in ("run.completed", "run.failed",
                                                       "run.cancelled")


# live --------------------------------------------------------------------------


async def test_live_events_arrive_in_the_tables_order(engine: AsyncEngine, db: Db) -> None:
    flow, gate = gated_flow()
    gate.set()
    stream = alisten(engine)  # everything, from now on
    receiving = asyncio.create_task(collect(stream, until=lambda e: e.kind == "run.completed"
                                            and e.run_id == run_ids[-1]))
    await subscribed(engine)
    run_ids: list[uuid.UUID] = []
    async with running_worker(engine, [flow]) as worker:
        # The worker registers on its own task; its worker.joined comes before the
        # runs only once it has (running_worker returns when the listener is up).
        await eventually(lambda: db.value(
            "select count(*) from htdag.workers where worker_id = %s", (worker.worker_id,)))
        for n in range(3):
            run_ids.append((await engine.start(flow, n)).run_id)
        for run_id in run_ids:
            await engine.wait(run_id, 10)
        got = await receiving

    table = await table_ids(db)
    assert ids(got) == table[:len(got)]
    assert [e.position for e in got] == sorted(e.position for e in got)
    assert len(set(ids(got))) == len(got)
    for run_id in run_ids:
        assert kinds(of_run(got, run_id))[0] == "run.started"
    assert kinds(got)[0] == "worker.joined"  # live from before the worker started


async def test_a_run_id_follows_the_run_and_child_runs_started_later(
        engine: AsyncEngine) -> None:
    flow, gate = gated_flow()
    child_flow = quick_flow()
    root = await engine.start(flow, None)
    sibling = await engine.start(flow, None)
    stream = alisten(engine, root.run_id, since=0, until_done=True)
    receiving = asyncio.create_task(collect(stream))
    await subscribed(engine)

    async with running_worker(engine, [flow, child_flow]):
        child = await engine.start(child_flow, "c", parent_run_id=root.run_id)
        grandchild = await engine.start(child_flow, "g", parent_run_id=child.run_id)
        unrelated = await engine.start(child_flow, "u")
        await grandchild.wait(10)
        await unrelated.wait(10)
        gate.set()
        got = await receiving
        await sibling.wait(10)

    runs = {e.run_id for e in got}
    assert runs == {root.run_id, child.run_id, grandchild.run_id}
    assert kinds(of_run(got, child.run_id))[0] == "run.started"
    assert kinds(of_run(got, grandchild.run_id))[-1] == "run.completed"
    assert got[-1].run_id == root.run_id and got[-1].kind == "run.completed"


async def test_a_child_run_id_follows_only_that_child_and_its_own_children(
        engine: AsyncEngine) -> None:
    child_flow = quick_flow()
    root = await engine.start(child_flow, "r")
    child = await engine.start(child_flow, "c", parent_run_id=root.run_id)
    stream = alisten(engine, child.run_id, since=0)
    later: list[uuid.UUID] = []
    receiving = asyncio.create_task(collect(stream, until=lambda e: e.run_id in later
                                            and e.kind == "run.completed"))
    await subscribed(engine)
    sibling = await engine.start(child_flow, "s", parent_run_id=root.run_id)
    later.append((await engine.start(child_flow, "g", parent_run_id=child.run_id)).run_id)
    async with running_worker(engine, [child_flow]):
        got = await receiving

    assert {e.run_id for e in got} == {child.run_id, later[0]}
    assert sibling.run_id not in {e.run_id for e in got}


async def test_kinds_filter_by_kind_and_by_category(engine: AsyncEngine) -> None:
    flow = Flow("failing")

    @flow.step(base_delay=0.01, max_delay=0.01, max_attempts=2)
    def no(inp: Any) -> None:
        raise RuntimeError("no")

    run = await engine.start(flow, None)
    stream = alisten(engine, run.run_id, kinds=["task", "run.failed"], since=0)
    async with running_worker(engine, [flow]):
        got = await collect(stream, until=lambda e: e.kind == "run.failed")

    assert kinds(got) == ["task.started", "task.retrying", "task.started", "task.failed",
                          "run.failed"]


async def test_a_kinds_filter_still_follows_child_runs_it_does_not_show_starting(
        engine: AsyncEngine) -> None:
    flow = quick_flow()
    root = await engine.start(flow, "r")
    stream = alisten(engine, root.run_id, kinds="task.completed", since=0)
    receiving = asyncio.create_task(collect(stream, count=2))
    await subscribed(engine)
    child = await engine.start(flow, "c", parent_run_id=root.run_id)
    async with running_worker(engine, [flow]):
        got = await receiving

    assert kinds(got) == ["task.completed", "task.completed"]
    assert {e.run_id for e in got} == {root.run_id, child.run_id}


# replay ------------------------------------------------------------------------


async def test_since_zero_replays_everything_then_goes_live(engine: AsyncEngine, db: Db) -> None:
    flow = quick_flow()
    async with running_worker(engine, [flow]):
        first = await engine.start(flow, 1)
        await first.wait(10)
        history = await table_ids(db)

        stream = alisten(engine, since=0)
        replayed = [await asyncio.wait_for(anext(stream), 5) for _ in history]
        assert ids(replayed) == history

        second = await engine.start(flow, 2)
        live = await collect(stream, until=finished(second.run_id))

    assert of_run(live, second.run_id)[0].kind == "run.started"
    assert ids(replayed + live) == (await table_ids(db))[:len(history) + len(live)]


async def test_since_an_event_id_resumes_exactly_after_it(engine: AsyncEngine, db: Db) -> None:
    flow = quick_flow()
    async with running_worker(engine, [flow]):
        for n in range(3):
            await (await engine.start(flow, n)).wait(10)
    table = await table_ids(db)
    middle = table[len(table) // 2]

    got = await collect(alisten(engine, since=middle), count=len(table) - len(table) // 2 - 1)

    assert ids(got) == table[len(table) // 2 + 1:]


async def test_since_an_event_the_reader_has_not_read_yet_resumes_exactly_after_it(
        engine: AsyncEngine, dsn: str, db: Db) -> None:
    # Another listener keeps the shared reader busy; a transaction left open holds
    # back what it can read. The newest event is in the table, not yet in the stream.
    others = alisten(engine)
    other_task = asyncio.create_task(collect(others, count=10**6, timeout=30))
    await subscribed(engine)
    async with await psycopg.AsyncConnection.connect(dsn) as blocker:
        await blocker.execute("select pg_current_xact_id()")
        for _ in range(3):
            await db.execute("select htdag.record_event('optimizer.applied', null, null)")
        newest = await last_event_id(db)

        stream = alisten(engine, since=newest)
        first = asyncio.create_task(anext(stream))
        await subscribed(engine, 2)
        await blocker.rollback()
        await asyncio.sleep(0.1)
        await db.execute("select htdag.record_event('subgoal.submitted', null, null)")
        event = await asyncio.wait_for(first, 5)

    other_task.cancel()
    await asyncio.gather(other_task, return_exceptions=True)
    await stream.aclose()
    assert (event.id, event.kind) == (newest + 1, "subgoal.submitted")


async def test_replay_of_a_run_tree_reads_only_that_tree(engine: AsyncEngine, db: Db) -> None:
    flow = quick_flow()
    async with running_worker(engine, [flow]):
        runs = [await engine.start(flow, n) for n in range(3)]
        for run in runs:
            await run.wait(10)

    got = await collect(alisten(engine, runs[1].run_id, since=0, until_done=True))

    assert ids(got) == await table_ids(db, runs[1].run_id)


# until_done and idle_timeout ------------------------------------------------------


async def test_until_done_stops_after_the_run_finishes(engine: AsyncEngine) -> None:
    flow, gate = gated_flow()
    run = await engine.start(flow, None)
    stream = alisten(engine, run.run_id, until_done=True)
    receiving = asyncio.create_task(collect(stream, count=10**6))
    await subscribed(engine)
    async with running_worker(engine, [flow]):
        gate.set()
        got = await receiving

    assert got[-1].kind == "run.completed"
    assert kinds(got).count("task.completed") == 4
    await eventually(lambda: subscriber_count(engine) == 0)


async def test_until_done_on_a_finished_run_replays_it_with_since_or_ends_at_once(
        engine: AsyncEngine) -> None:
    flow = quick_flow()
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, None)
        await run.wait(10)

    assert await collect(alisten(engine, run.run_id, until_done=True), timeout=2) == []
    replay = await collect(alisten(engine, run.run_id, since=0, until_done=True), timeout=2)
    assert kinds(replay)[0] == "run.started" and kinds(replay)[-1] == "run.completed"


async def test_until_done_on_a_failing_run_yields_its_step_failed_before_stopping(
        engine: AsyncEngine) -> None:
    flow = Flow("fails_once")

    @flow.step()
    def broken(inp: Any) -> None:
        raise htdag.NonRetryableError("broken")

    run = await engine.start(flow, None)
    async with running_worker(engine, [flow]):
        got = await collect(alisten(engine, run.run_id, since=0, until_done=True))

    assert kinds(got)[-3:] == ["task.failed", "step.failed", "run.failed"]


async def test_until_done_ends_even_if_the_run_finishes_while_the_listener_starts(
        engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    flow, _gate = gated_flow()
    run = await engine.start(flow, None)
    original = EventHub.add

    async def add_after_the_run_ends(self: EventHub, sub: Any) -> Any:
        await engine.cancel(run.run_id)
        await eventually(lambda: engine.store.run_outcome(run.run_id))
        await asyncio.sleep(0.2)  # and its events are in the past of any reader
        return await original(self, sub)

    monkeypatch.setattr(EventHub, "add", add_after_the_run_ends)

    got = await collect(alisten(engine, run.run_id, until_done=True), timeout=3)

    assert kinds(got) in ([], ["run.cancelled"])


async def test_idle_timeout_ends_a_quiet_stream(engine: AsyncEngine) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    got = await collect(alisten(engine, idle_timeout=0.3), timeout=5)
    assert got == []
    assert 0.3 <= loop.time() - started < 2


async def test_until_done_needs_a_run_id(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="run_id"):
        await anext(alisten(engine, until_done=True))


# bad input -----------------------------------------------------------------------


async def test_an_unknown_run_id_is_a_clear_error(engine: AsyncEngine) -> None:
    missing = uuid.uuid4()
    with pytest.raises(UnknownRunError, match=str(missing)):
        await anext(alisten(engine, missing))
    with pytest.raises(UnknownRunError, match="UUID"):
        await anext(alisten(engine, "not-a-run"))
    with pytest.raises(UnknownRunError):
        await aget_recent_events(engine, missing)
    assert subscriber_count(engine) == 0


async def test_an_unknown_kind_is_a_clear_error(engine: AsyncEngine) -> None:
    with pytest.raises(UnknownEventKindError, match=r"'task\.exploded'"):
        await anext(alisten(engine, kinds=["task.failed", "task.exploded"]))
    with pytest.raises(UnknownEventKindError):
        await aget_recent_events(engine, kinds="nonsense")


async def test_an_unknown_or_pruned_since_id_is_a_clear_error(
        engine: AsyncEngine, db: Db) -> None:
    with pytest.raises(UnknownEventError, match="12345"):
        await anext(alisten(engine, since=12345))
    await db.execute("select htdag.record_event('optimizer.applied', null, null)")
    pruned = await last_event_id(db)
    await db.execute("delete from htdag.events")
    with pytest.raises(UnknownEventError, match="from 0"):
        await anext(alisten(engine, since=pruned))


# the sync form ---------------------------------------------------------------------




def test_the_sync_listen_is_a_generator_of_the_same_events(sync_engine: htdag.Engine) -> None:
    flow = Flow("sync_events")

    @flow.step(map=True)
    def inc(x: int) -> int:
        return x + 1

    with sync_engine.start_worker([flow], poll_interval=0.05):
        run = sync_engine.start(flow, [1, 2])
        got = list(listen(sync_engine, run.run_id, since=0, until_done=True))

    assert got[0].kind == "run.started" and got[-1].kind == "run.completed"
    assert got == get_recent_events(sync_engine, run.run_id)
    assert htdag.listen is listen and htdag.events.get_recent_events is get_recent_events


def test_breaking_out_of_the_sync_listen_releases_it(sync_engine: htdag.Engine) -> None:
    flow = quick_flow("sync_quick")
    with sync_engine.start_worker([flow], poll_interval=0.05):
        sync_engine.run(flow, 1, timeout=10)

    for event in listen(sync_engine, since=0):
        assert event.kind == "worker.joined"
        break

    deadline = time.monotonic() + 2
    while subscriber_count(sync_engine.aio) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert subscriber_count(sync_engine.aio) == 0
    with pytest.raises(UnknownRunError):
        next(listen(sync_engine, uuid.uuid4()))
    assert hub_for(sync_engine.aio) is hub_for(sync_engine.aio)


# the engine closing ------------------------------------------------------------------


async def test_closing_the_engine_ends_its_listeners_and_their_reader(
        dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = await AsyncEngine.connect(dsn, pool_size=2)
    streams = [alisten(engine), alisten(engine, since=0)]
    waiting = [asyncio.create_task(collect(s, count=10**6, timeout=30)) for s in streams]
    await subscribed(engine, 2)
    hub = hub_for(engine)

    await engine.close()

    results = await asyncio.wait_for(asyncio.gather(*waiting), 5)
    assert results == [[], []]
    await eventually(lambda: hub._task is not None and hub._task.done(), timeout=2)
    assert subscriber_count(engine) == 0
    assert len([r for r in caplog.records if r.name == "htdag.events"]) <= 1
