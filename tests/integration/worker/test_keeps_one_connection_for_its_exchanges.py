"""A worker's exchanges go through one connection it keeps (no pool checkout per
exchange); if the server closes it, the next exchange fails, the connection goes
back to the pool (which replaces it), and the worker carries on with a new one:
nothing is lost."""

from __future__ import annotations

from typing import Any

import psycopg

from htdag import Flow
from htdag.core.engine import AsyncEngine

from .._support import running_worker


def chain(name: str, steps: int) -> Flow:
    flow = Flow(name)

    async def link(inp: Any) -> int:
        return len(inp)

    for i in range(steps):
        flow.add_step(f"s{i:02d}", link, handler_name=f"{name}.link",
                      depends_on=[f"s{i - 1:02d}"] if i else [])
    return flow


async def test_the_exchanges_of_a_worker_use_one_backend(engine: AsyncEngine) -> None:
    flow = chain("one_conn", 8)
    backends: list[int] = []
    exchange = engine.store.exchange

    async def recorded(*args: Any, conn: Any = None, **kw: Any) -> Any:
        assert conn is not None
        backends.append(conn.info.backend_pid)
        return await exchange(*args, conn=conn, **kw)

    engine.store.exchange = recorded  # type: ignore[method-assign]
    async with running_worker(engine, [flow]):
        await engine.run(flow, None, timeout=20)
    assert len(backends) >= 7 and len(set(backends)) == 1


async def test_a_closed_exchange_connection_is_replaced(engine: AsyncEngine, dsn: str) -> None:
    flow = chain("replaced", 3)
    async with running_worker(engine, [flow]) as worker:
        assert await engine.run(flow, None, timeout=20) == {"s02": 2}
        conn = worker._conn
        assert conn is not None
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s, 5000)", (conn.info.backend_pid,))

        assert await engine.run(flow, None, timeout=20) == {"s02": 2}  # a new connection

        assert worker._conn is not None and worker._conn is not conn
    tasks = await engine.store._all(
        "select count(*) as n from htdag.tasks where status = 'completed'")
    assert tasks == [{"n": 6}]  # each task of both runs completed once
