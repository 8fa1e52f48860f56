"""Helpers for the integration tests: direct SQL, flows stored and started
through the Store, and workers run in-process."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row

from htdag import Flow
from htdag.core.engine import AsyncEngine, Handlers
from htdag.core.store import ClaimedTask, Completion, Failure, Store
from htdag.core.worker import Worker

WORKER_A = uuid.UUID(int=0xA)
WORKER_B = uuid.UUID(int=0xB)


class Db:
    """Direct SQL on the test database (an autocommit connection)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def rows(self, query: str, params: Any = ()) -> list[dict[str, Any]]:
        cur = self.conn.cursor(row_factory=dict_row)
        await cur.execute(query, params)
        return await cur.fetchall()

    async def row(self, query: str, params: Any = ()) -> dict[str, Any]:
        rows = await self.rows(query, params)
        assert len(rows) == 1, rows
        return rows[0]

    async def value(self, query: str, params: Any = ()) -> Any:
        cur = await self.conn.execute(query, params)
        row = await cur.fetchone()
        assert row is not None
        return row[0]

    async def execute(self, query: str, params: Any = ()) -> None:
        await self.conn.execute(query, params)

    async def task(self, run_id: uuid.UUID, step: str, index: int = 0) -> dict[str, Any]:
        return await self.row(
            "select * from htdag.tasks where run_id = %s and step_name = %s and task_index = %s",
            (run_id, step, index))

    async def tasks(self, run_id: uuid.UUID) -> list[dict[str, Any]]:
        return await self.rows(
            "select * from htdag.tasks where run_id = %s order by step_name, task_index", (run_id,))

    async def step(self, run_id: uuid.UUID, step: str) -> dict[str, Any]:
        return await self.row(
            "select * from htdag.step_states where run_id = %s and step_name = %s", (run_id, step))

    async def run(self, run_id: uuid.UUID) -> dict[str, Any]:
        return await self.row("select * from htdag.runs where run_id = %s", (run_id,))

    async def attempts(self, run_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
        return await self.rows(
            "select * from htdag.attempts where %(run)s::uuid is null or run_id = %(run)s"
            " order by task_id, attempt", {"run": run_id})


# flows and runs through the store -------------------------------------------------


def flow_of(name: str, *steps: tuple[str, list[str]] | tuple[str, list[str], dict[str, Any]]
            ) -> Flow:
    """A flow of steps given as (name, deps) or (name, deps, options); handler "h.<name>".
    The option ``map=True`` makes a map step."""
    flow = Flow(name)
    for spec in steps:
        step_name, deps = spec[0], spec[1]
        options: dict[str, Any] = dict(spec[2]) if len(spec) > 2 else {}
        is_map = bool(options.pop("map", False))
        flow.add_step(step_name, f"h.{step_name}", depends_on=deps, map=is_map, **options)
    return flow


async def start(store: Store, flow: Flow, input: Any = None,
                parent_run_id: uuid.UUID | None = None) -> uuid.UUID:
    await store.add_flow(flow.hash, flow.to_definition())
    return await store.start_run(flow.hash, json.dumps(input), parent_run_id)


async def claim(store: Store, limit: int = 100, worker: uuid.UUID = WORKER_A,
                handlers: list[str] | None = None, lease: float = 30.0) -> list[ClaimedTask]:
    return await store.claim_tasks(worker, limit, handlers, lease)


async def complete(store: Store, task: ClaimedTask, output: Any,
                   token: uuid.UUID | None = None) -> list[int]:
    return await store.complete_tasks(
        [Completion(task.task_id, token or task.claim_token, json.dumps(output))])


async def fail(store: Store, task: ClaimedTask, error: str = "boom",
               retryable: bool = True) -> list[int]:
    return await store.fail_tasks([Failure(task.task_id, task.claim_token, error, retryable)])


def by_step(tasks: list[ClaimedTask]) -> dict[tuple[str, int], ClaimedTask]:
    return {(t.step_name, t.task_index): t for t in tasks}


# notifications ----------------------------------------------------------------------


class Notifications:
    """What arrives on a LISTEN connection of the test's own."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def drain(self) -> list[tuple[str, str]]:
        """(channel, payload) of what arrived so far (waits a moment for stragglers)."""
        return [(n.channel, n.payload) async for n in self.conn.notifies(timeout=0.3)]

    async def payloads(self, channel: str) -> list[str]:
        return [payload for name, payload in await self.drain() if name == channel]


@contextlib.asynccontextmanager
async def listening(dsn: str, *channels: str) -> AsyncIterator[Notifications]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for channel in channels:
            await conn.execute(f"listen {channel}")
        yield Notifications(conn)


# waiting and workers ------------------------------------------------------------


async def eventually(check: Callable[[], Any] | Callable[[], Awaitable[Any]],
                     timeout: float = 5.0, interval: float = 0.01) -> Any:
    """Polls ``check`` until it returns something truthy; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_worker(engine: AsyncEngine, handlers: Handlers,
                         **options: Any) -> AsyncIterator[Worker]:
    """A worker running on the test's loop; stopped (and any crash re-raised) on exit."""
    options.setdefault("poll_interval", 0.05)
    options.setdefault("lease_seconds", 10.0)
    options.setdefault("shutdown_timeout", 5.0)
    worker = engine.worker(handlers, **options)
    job = asyncio.create_task(worker.run())
    try:
        # Tests of notifications start once the worker listens (the start-up
        # window has its own test).
        await engine.listener.wait_connected()
        yield worker
        assert not job.done() or job.exception() is None, f"worker crashed: {job.exception()!r}"
    finally:
        worker.stop()
        await asyncio.wait_for(job, 20)


class GatedPsycopg:
    """psycopg as the engine's listener sees it: connecting waits while the gate is
    shut (monkeypatch ``htdag.core.listener.psycopg`` with it)."""

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate

    def __getattr__(self, name: str) -> Any:
        return getattr(psycopg, name)

    @property
    def AsyncConnection(self) -> Any:
        gate = self.gate

        class Gated:
            @staticmethod
            async def connect(*args: Any, **kwargs: Any) -> Any:
                await gate.wait()
                return await psycopg.AsyncConnection.connect(*args, **kwargs)

        return Gated
