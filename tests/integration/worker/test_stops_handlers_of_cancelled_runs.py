"""Cancelling a run stops its running handlers: an async handler is cancelled,
a sync handler sees ctx.is_cancelled; nothing they return is recorded."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from htdag import Flow, TaskContext
from htdag.core import listener as listener_module
from htdag.core.engine import AsyncEngine
from htdag.core.listener import Listener

from .._support import Db, GatedPsycopg, eventually, running_worker


def healthy() -> Flow:
    flow = Flow("healthy")

    @flow.step()
    def fine(inp: Any) -> str:
        return "still serving"

    return flow


async def test_cancelling_a_run_cancels_its_running_async_handler(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("forever_async")
    entered, got_cancelled = asyncio.Event(), asyncio.Event()

    @flow.step()
    async def forever(inp: Any) -> str:
        entered.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            got_cancelled.set()
            raise
        return "never"

    async with running_worker(engine, [flow, healthy()]):
        run = await engine.start(flow, None)
        await asyncio.wait_for(entered.wait(), 5)

        await engine.cancel(run.run_id)

        await asyncio.wait_for(got_cancelled.wait(), 1.0)
        assert await engine.run(healthy(), None, timeout=10) == {"fine": "still serving"}

    [task] = await db.tasks(run.run_id)
    assert (task["status"], task["output"]) == ("cancelled", None)
    assert await db.attempts(run.run_id) == []


async def test_cancelling_a_run_tells_its_sync_handler_within_a_second(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("forever_sync")
    entered, finished = threading.Event(), threading.Event()
    observed: list[tuple[bool, float]] = []

    @flow.step()
    def patient(inp: Any, ctx: TaskContext) -> str:
        entered.set()
        deadline = time.monotonic() + 10
        while not ctx.is_cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        observed.append((ctx.is_cancelled, time.monotonic()))
        finished.set()
        return "ignored"

    async with running_worker(engine, [flow]) as worker:
        run = await engine.start(flow, None)
        assert await asyncio.to_thread(entered.wait, 5)

        cancelled_at = time.monotonic()
        await engine.cancel(run.run_id)

        assert await asyncio.to_thread(finished.wait, 5)
        await asyncio.sleep(0.2)
        assert worker.tasks_completed == 0

    [(saw_it, when)] = observed
    assert saw_it
    assert when - cancelled_at < 1.0
    [task] = await db.tasks(run.run_id)
    assert (task["status"], task["output"]) == ("cancelled", None)
    assert await db.attempts(run.run_id) == []


async def test_a_sync_handler_can_stop_with_raise_if_cancelled(engine: AsyncEngine) -> None:
    flow = Flow("polite")
    entered, finished = threading.Event(), threading.Event()
    raised: list[str] = []

    @flow.step()
    def polite(inp: Any, ctx: TaskContext) -> None:
        entered.set()
        try:
            for _ in range(1000):
                ctx.raise_if_cancelled()
                time.sleep(0.01)
        except Exception as exc:
            raised.append(type(exc).__name__)
            raise
        finally:
            finished.set()

    async with running_worker(engine, [flow]) as worker:
        run = await engine.start(flow, None)
        assert await asyncio.to_thread(entered.wait, 5)
        await engine.cancel(run.run_id)
        assert await asyncio.to_thread(finished.wait, 5)
        await asyncio.sleep(0.1)
        assert (worker.tasks_completed, worker.tasks_failed) == (0, 0)

    assert raised == ["TaskCancelled"]


async def test_cancelling_one_run_leaves_other_runs_handlers_alone(engine: AsyncEngine) -> None:
    flow = Flow("two_runs")
    entered: dict[int, asyncio.Event] = {1: asyncio.Event(), 2: asyncio.Event()}
    release = asyncio.Event()

    @flow.step()
    async def hold(inp: Any) -> int:
        entered[inp["run"]].set()
        await release.wait()
        return int(inp["run"])

    async with running_worker(engine, [flow]):
        first = await engine.start(flow, 1)
        second = await engine.start(flow, 2)
        await asyncio.wait_for(asyncio.gather(entered[1].wait(), entered[2].wait()), 5)
        await engine.cancel(first.run_id)
        await asyncio.sleep(0.2)
        release.set()
        assert await second.wait(timeout=10) == {"hold": 2}


async def test_a_worker_slow_to_listen_still_hears_a_cancellation_at_once(
        engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    # Its LISTEN connection comes up half a second late (a slow network): a task
    # claimed before then would miss the NOTIFY of its run's cancellation.
    original = Listener._run

    async def slow_to_listen(self: Listener) -> None:
        await asyncio.sleep(0.5)
        await original(self)

    monkeypatch.setattr(Listener, "_run", slow_to_listen)
    flow = Flow("early_cancel")
    entered, got_cancelled = asyncio.Event(), asyncio.Event()

    @flow.step()
    async def forever(inp: Any) -> None:
        entered.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            got_cancelled.set()
            raise

    worker = engine.worker([flow], poll_interval=0.05, lease_seconds=10, shutdown_timeout=0.1)
    job = asyncio.create_task(worker.run())
    try:
        run = await engine.start(flow, None)
        await asyncio.wait_for(entered.wait(), 5)

        await engine.cancel(run.run_id)

        try:
            await asyncio.wait_for(got_cancelled.wait(), 1.0)
        except TimeoutError:
            pytest.fail("the handler of a cancelled run was still running after 1 s")
    finally:
        worker.stop()
        await asyncio.wait_for(job, 10)


LISTENER = ("select pid from pg_stat_activity where datname = current_database()"
            " and query like 'listen %%'")


async def test_a_cancellation_missed_while_the_listener_reconnects_is_noticed_quickly(
        engine: AsyncEngine, db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    flow = Flow("missed_cancel")
    entered, got_cancelled = asyncio.Event(), asyncio.Event()

    @flow.step()
    async def forever(inp: Any) -> None:
        entered.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            got_cancelled.set()
            raise

    gate = asyncio.Event()
    gate.set()
    monkeypatch.setattr(listener_module, "psycopg", GatedPsycopg(gate))
    async with running_worker(engine, [flow], lease_seconds=10, shutdown_timeout=0.1):
        run = await engine.start(flow, None)
        await asyncio.wait_for(entered.wait(), 5)

        # The listening connection drops and cannot come back yet: the NOTIFY of
        # this cancellation reaches nobody.
        gate.clear()
        [listener] = await db.rows(LISTENER)
        await db.execute("select pg_terminate_backend(%s)", (listener["pid"],))
        await eventually(lambda: not engine.listener.connected.is_set())
        await engine.cancel(run.run_id)
        await asyncio.sleep(0.1)
        assert not got_cancelled.is_set()

        gate.set()
        try:
            await asyncio.wait_for(got_cancelled.wait(), 1.0)
        except TimeoutError:
            pytest.fail("a cancellation missed while the listener was down went unnoticed "
                        "for over 1 s after it came back (until the next heartbeat)")
