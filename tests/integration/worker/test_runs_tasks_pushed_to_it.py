"""An idle worker is sent ready tasks by the transaction that made them ready
(sql/functions/start_run.sql): it runs them without a claim of its own, never beyond its slots,
and gives back pushes it missed while its LISTEN connection was down."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from htdag import Flow
from htdag.core import listener as listener_module
from htdag.core.engine import AsyncEngine

from .._support import Db, GatedPsycopg, eventually, running_worker

LISTENER = ("select pid from pg_stat_activity where datname = current_database()"
            " and query like 'listen %%'")


async def test_an_idle_worker_runs_a_pushed_task_without_claiming(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("pushed")

    @flow.step()
    async def echo(inp: Any) -> Any:
        return inp["run"]

    await engine.store_flow(flow)
    claims: list[int] = []
    exchange = engine.store.exchange

    async def counted(*args: Any, **kw: Any) -> Any:
        claimed = await exchange(*args, **kw)
        claims.append(len(claimed))
        return claimed

    engine.store.exchange = counted  # type: ignore[method-assign]
    async with running_worker(engine, [flow], poll_interval=30) as worker:
        await eventually(lambda: claims)
        await asyncio.sleep(0.2)
        claims.clear()
        assert await engine.run(flow, {"x": 1}, timeout=10) == {"echo": {"x": 1}}
        pushed = await db.value("select tasks_pushed from htdag.workers where worker_id = %s",
                                (worker.worker_id,))

    assert pushed == 1
    assert sum(claims) == 0  # the only exchange completed the task and claimed nothing


async def test_a_push_beyond_the_free_slots_is_given_back(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("slots")
    release = asyncio.Event()

    @flow.step()
    async def hold(inp: Any) -> Any:
        await release.wait()
        return inp["run"]

    await engine.store_flow(flow)
    async with running_worker(engine, [flow], concurrency=1) as worker:
        first = await engine.start(flow, 1)
        await eventually(lambda: len(worker._running) == 1)
        second = await engine.start(flow, 2)  # queued: the worker is busy
        # A push that a racing exchange made stale arrives while the slot is taken.
        [row] = await db.rows(
            "select to_jsonb(c) as task from htdag.claim_tasks(%s, 1, null, 30) c",
            (worker.worker_id,))
        worker._on_push(json.dumps({"worker_id": str(worker.worker_id), "tasks": [row["task"]]}))

        await eventually(lambda: db.value(
            "select status = 'queued' and attempts_count = 0 from htdag.tasks"
            " where run_id = %s", (second.run_id,)))
        assert len(worker._running) == 1
        release.set()
        assert await first.wait(10) == {"hold": 1}
        assert await second.wait(10) == {"hold": 2}


async def test_pushes_missed_while_not_listening_are_given_back_at_once(
        engine: AsyncEngine, db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    flow = Flow("missed")

    @flow.step()
    async def echo(inp: Any) -> Any:
        return inp["run"]

    gate = asyncio.Event()
    gate.set()
    monkeypatch.setattr(listener_module, "psycopg", GatedPsycopg(gate))
    await engine.store_flow(flow)
    # A long lease and no poll: only the give-back can bring the task back soon.
    async with running_worker(engine, [flow], lease_seconds=30, poll_interval=30) as worker:
        # Idle in the database (its first exchange is done), so the run is pushed to it.
        await eventually(lambda: db.value(
            "select idle_slots > 0 from htdag.workers where worker_id = %s", (worker.worker_id,)))
        gate.clear()
        [listener] = await db.rows(LISTENER)
        await db.execute("select pg_terminate_backend(%s)", (listener["pid"],))
        await eventually(lambda: not engine.listener.connected.is_set())

        run = await engine.start(flow, "x")  # pushed to the worker, which cannot hear
        assert await db.value("select status::text from htdag.tasks where run_id = %s",
                              (run.run_id,)) == "started"
        started = time.monotonic()
        gate.set()

        assert await run.wait(10) == {"echo": "x"}
        assert time.monotonic() - started < 5
    attempts = await db.rows("select attempt from htdag.attempts where run_id = %s",
                             (run.run_id,))
    assert [a["attempt"] for a in attempts] == [1]  # the missed push did not count
