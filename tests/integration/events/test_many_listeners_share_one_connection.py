"""A thousand listeners on one engine share its one LISTEN connection and one
reader: they all get the same events, the process holds a handful of
connections, and a closed listener leaves the hub."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from htdag import Flow
from htdag.core.engine import AsyncEngine
from htdag.notifications import alisten

from .._event_support import table_ids
from .._support import Db, running_worker
from ._listening import collect, ids, listen_pids, subscribed, subscriber_count

LISTENERS = 1000
CONNECTIONS = ("select count(*) from pg_stat_activity where datname = current_database()"
               " and pid <> pg_backend_pid()")


async def test_a_thousand_listeners_get_the_same_events_over_one_connection(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("broadcast")
    release = asyncio.Event()

    @flow.step(map=True)
    async def part(x: int) -> int:
        await release.wait()
        return x

    run = await engine.start(flow, list(range(5)))

    def done(e: Any) -> bool:
        return bool(e.run_id == run.run_id and e.kind == "run.completed")

    listeners = [asyncio.create_task(collect(alisten(engine, run.run_id, since=0), until=done,
                                             timeout=30)) for _ in range(LISTENERS)]
    await subscribed(engine, LISTENERS)

    async with running_worker(engine, [flow]):
        while_listening = await db.value(CONNECTIONS)
        listening = await listen_pids(db)
        release.set()
        results = await asyncio.gather(*listeners)

    table = await table_ids(db, run.run_id)
    assert all(ids(got) == table for got in results)
    assert len(table) == 2 + 5 * 2 + 2
    # the pool (8 at most) and the one LISTEN connection, shared with the worker
    assert len(listening) == 1
    assert while_listening <= 8 + 1
    assert subscriber_count(engine) == 0  # each closed on its way out


async def test_breaking_out_of_a_listener_removes_it_from_the_hub(engine: AsyncEngine) -> None:
    for _ in range(2):
        await engine.store.register_worker(uuid.uuid4(), "h", 1, ["x"], 1, 30.0)
    streams = [alisten(engine, since=0) for _ in range(3)]
    for stream in streams:
        assert (await anext(stream)).kind == "worker.joined"
    assert subscriber_count(engine) == 3

    async for _event in streams[0]:
        break  # leaving the loop early does not close the generator by itself
    assert subscriber_count(engine) == 3
    await streams[0].aclose()
    assert subscriber_count(engine) == 2
    await asyncio.gather(*(s.aclose() for s in streams[1:]))
    assert subscriber_count(engine) == 0


async def test_a_listener_cancelled_while_waiting_leaves_the_hub(engine: AsyncEngine) -> None:
    async def wait_forever() -> Any:
        async for event in alisten(engine):
            return event

    waiting = [asyncio.create_task(wait_forever()) for _ in range(10)]
    await subscribed(engine, 10)
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)

    assert subscriber_count(engine) == 0


async def test_with_a_thousand_listeners_a_worker_still_hears_a_cancellation_at_once(
        engine: AsyncEngine) -> None:
    flow = Flow("cancel_me")
    entered, stopped = asyncio.Event(), asyncio.Event()

    @flow.step()
    async def forever(inp: Any) -> None:
        entered.set()
        try:
            await asyncio.sleep(60)
        finally:
            stopped.set()

    listeners = [asyncio.create_task(collect(alisten(engine), count=10**9, timeout=60))
                 for _ in range(LISTENERS)]
    await subscribed(engine, LISTENERS)
    try:
        async with running_worker(engine, [flow]):
            run = await engine.start(flow, None)
            await asyncio.wait_for(entered.wait(), 5)
            await engine.cancel(run.run_id)
            await asyncio.wait_for(stopped.wait(), 1.0)
    finally:
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
    assert subscriber_count(engine) == 0
