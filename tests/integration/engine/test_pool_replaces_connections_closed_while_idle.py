"""A pooled connection that the server closed while it sat idle (a restart, an
idle timeout, an administrator) is pinged before its next use and replaced: the
call succeeds. One in constant use is not pinged, so the hot path pays no extra
round trip."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from htdag.core import db as db_module
from htdag.core.engine import AsyncEngine


async def _backend_pids(engine: AsyncEngine) -> set[int]:
    pids = set()
    conns = []
    try:
        for _ in range(2):  # take both pooled connections, so each is seen
            conn = await engine.db.pool.getconn()
            conns.append(conn)
            pids.add(conn.info.backend_pid)
    finally:
        for conn in conns:
            await engine.db.pool.putconn(conn)
    return pids


async def test_a_connection_closed_while_idle_is_replaced(dsn: str,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setattr(db_module, "IDLE_CHECK_SECONDS", 0.2)
    engine = await AsyncEngine.connect(dsn, pool_size=2)
    try:
        await engine.db.pool.resize(2, 2)
        await engine.db.pool.wait(timeout=10)
        pids = await _backend_pids(engine)
        with psycopg.connect(dsn, autocommit=True) as admin:
            for pid in pids:
                admin.execute("select pg_terminate_backend(%s, 5000)", (pid,))
        await asyncio.sleep(0.3)  # longer than the idle check's threshold
        for _ in range(3):  # every pooled connection is used (and was closed)
            assert await engine.list_runs() == []
        assert not pids & await _backend_pids(engine)
    finally:
        await engine.close()


async def test_a_connection_in_constant_use_is_not_pinged(dsn: str) -> None:
    engine = await AsyncEngine.connect(dsn, pool_size=1)
    try:
        await engine.list_runs()  # the first use of a connection pings it
        pings = 0
        original = psycopg.AsyncConnection.execute

        async def counting(self: psycopg.AsyncConnection, query: object, *args: object,
                           **kwargs: object) -> object:
            nonlocal pings
            pings += query == ""
            return await original(self, query, *args, **kwargs)  # type: ignore[arg-type]

        psycopg.AsyncConnection.execute = counting  # type: ignore[assignment,method-assign]
        try:
            for _ in range(20):
                await engine.list_runs()
        finally:
            psycopg.AsyncConnection.execute = original  # type: ignore[method-assign]
        assert pings == 0
    finally:
        await engine.close()
