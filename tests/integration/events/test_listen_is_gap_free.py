"""listen() is gap-free: when its LISTEN connection drops, the stream
reconnects and replays what it missed from the table, in order, with no
duplicates; concurrent writers never make it skip or repeat an event."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from htdag import Flow
from htdag.core import listener as listener_module
from htdag.core.engine import AsyncEngine
from htdag.notifications import Event, alisten
from htdag.notifications.hub import hub_for

from .._event_support import table_events, table_ids
from .._support import Db, GatedPsycopg, eventually, running_worker
from ._listening import collect, ids, listen_pids, subscribed


def steady_flow(name: str = "steady", finish: asyncio.Event | None = None) -> Flow:
    """A map of small tasks, then a total that waits for ``finish`` (if given)."""
    flow = Flow(name)

    @flow.step(map=True, handler=f"{name}.tick")
    async def tick(x: int) -> int:
        await asyncio.sleep(0.002)
        return x

    @flow.step(depends_on=["tick"], handler=f"{name}.total")
    async def total(inp: Any) -> int:
        if finish is not None:
            await finish.wait()
        return len(inp["tick"])

    return flow


async def terminate_listener(engine: AsyncEngine, db: Db) -> int:
    """Kills the engine's LISTEN connection; returns its pid."""
    [pid] = await eventually(lambda: listen_pids(db))
    await db.execute("select pg_terminate_backend(%s)", (pid,))
    return int(pid)


async def all_readable(db: Db, root_run_id: uuid.UUID) -> None:
    """Waits until a reader can read every event of the tree: a transaction open
    elsewhere on the server (even in another database) holds them back a while."""
    query = ("select (select count(*) from htdag.read_events('0', 0, null, null, %(root)s,"
             " 100000)) = (select count(*) from htdag.events where root_run_id = %(root)s)")
    await eventually(lambda: db.value(query, {"root": root_run_id}), timeout=10)


def assert_same_stream(got: list[Event], table: list[dict[str, Any]]) -> None:
    assert len(got) == len(set(ids(got))), "duplicates"
    assert ids(got) == [r["event_id"] for r in table], "a gap, or out of order"
    assert [e.position for e in got] == [(r["tx_id"], r["event_id"]) for r in table]


async def test_the_stream_survives_its_connection_being_killed_under_load(
        engine: AsyncEngine, db: Db) -> None:
    finish = asyncio.Event()
    flow = steady_flow(finish=finish)
    run = await engine.start(flow, list(range(300)))
    receiving = asyncio.create_task(
        collect(alisten(engine, run.run_id, since=0, until_done=True), timeout=30))
    await subscribed(engine)
    killed: list[int] = []

    async with running_worker(engine, [flow], concurrency=4):
        while len(killed) < 3:
            await asyncio.sleep(0.05)
            killed.append(await terminate_listener(engine, db))

            async def replaced() -> bool:
                pids = await listen_pids(db)
                return bool(pids) and killed[-1] not in pids

            await eventually(replaced)  # a new connection, not the old one
        events_while_killing = await db.value(
            "select count(*) from htdag.events where root_run_id = %s", (run.run_id,))
        finish.set()
        got = await receiving

    assert got[-1].kind == "run.completed"
    assert_same_stream(got, await table_events(db, run.run_id))
    assert sum(e.kind == "task.completed" for e in got) == 301
    assert events_while_killing > 50  # the connection dropped while events kept coming


async def test_events_written_while_the_connection_is_down_are_replayed_when_it_is_back(
        engine: AsyncEngine, db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = asyncio.Event()
    gate.set()
    monkeypatch.setattr(listener_module, "psycopg", GatedPsycopg(gate))
    flow = steady_flow()
    run = await engine.start(flow, [1])
    stream = alisten(engine, run.run_id, since=0)
    first = await asyncio.wait_for(anext(stream), 5)
    assert first.kind == "run.started"
    # From now on no help from the periodic read: only a wake-up on reconnect.
    monkeypatch.setattr(hub_for(engine), "poll_interval", 60.0)

    gate.clear()
    await terminate_listener(engine, db)
    await eventually(lambda: not engine.listener.connected.is_set())
    # While nobody listens: a child run starts and the run is cancelled. No NOTIFY
    # reaches this process; the events are only in the table.
    child = await engine.start(flow, [2], parent_run_id=run.run_id)
    await engine.cancel(run.run_id)
    await all_readable(db, run.run_id)
    table = await table_events(db, run.run_id)
    gate.set()

    got = [first] + await collect(stream, count=len(table) - 1, timeout=5)

    assert_same_stream(got, table)
    assert got[-1].kind == "subgoal.failed" and got[-1].data["cancelled"] is True
    assert [e.kind for e in got if e.run_id == child.run_id] == [
        "run.started", "step.started", "run.cancelled"]


async def test_concurrent_writers_never_make_a_listener_skip_or_repeat(
        engine: AsyncEngine, dsn: str, db: Db) -> None:
    flow = steady_flow()
    other = await AsyncEngine.connect(dsn, pool_size=8)
    got: list[Event] = []

    async def receive() -> None:
        async for event in alisten(engine, since=0):
            got.append(event)

    receiving = asyncio.create_task(receive())
    try:
        await subscribed(engine)

        async def starter(n: int) -> list[uuid.UUID]:
            runs = []
            for i in range(6):
                eng = engine if (n + i) % 2 else other
                runs.append((await eng.start(flow, list(range(i + 2)))).run_id)
            return runs

        async with running_worker(engine, [flow], concurrency=8), \
                running_worker(other, [flow], concurrency=8):
            batches = await asyncio.gather(*[starter(n) for n in range(5)])
            for run_id in [r for batch in batches for r in batch]:
                await engine.wait(run_id, 20)
    finally:
        await other.close()
    table_now = await table_ids(db)
    await eventually(lambda: len(got) >= len(table_now), timeout=10)
    await asyncio.sleep(0.1)
    receiving.cancel()
    await asyncio.gather(receiving, return_exceptions=True)

    table = await table_events(db)
    assert len(table) == len(table_now) > 30 * 6
    assert_same_stream(got, table)
