"""Every pooled connection is killed at once (a server restart, a failover, an
administrator or a proxy ending sessions) while the server stays up: the next
call succeeds within a second. psycopg_pool's check loop backs off 1, 2, 4, 8 s
per dead connection it meets, so before the fix the next call took 15 s with 5
dead connections and failed with PoolTimeout after 30 s with 8.

Both for connections idle long enough to be pinged and for ones used a moment
ago (not pinged: the hot path pays no extra round trip)."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

import htdag
from htdag.core import db as db_module
from htdag.core._portal import portal
from htdag.core.engine import AsyncEngine

POOL_SIZE = 10
BOUND = 1.5  # seconds; tens of seconds before the fix


async def _fill(engine: AsyncEngine) -> set[int]:
    """Opens every connection the pool may hold; returns their backend pids."""
    await engine.list_runs()  # imports what the call needs: not what the test times
    pool = engine.db.pool
    await pool.resize(POOL_SIZE, POOL_SIZE)
    await pool.wait(timeout=10)
    conns = [await pool.getconn() for _ in range(POOL_SIZE)]  # each one checked, as in a call
    try:
        return {conn.info.backend_pid for conn in conns}
    finally:
        for conn in conns:
            await pool.putconn(conn)


def _kill_every_session_of(dsn: str) -> int:
    """pg_terminate_backend on every other session of the test's own database;
    waits until each has ended."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        rows = admin.execute(
            "select pg_terminate_backend(pid, 5000) from pg_stat_activity"
            " where datname = current_database() and pid <> pg_backend_pid()").fetchall()
    assert all(ok for ok, in rows)
    return len(rows)


@pytest.mark.parametrize("idle", [True, False], ids=["idle", "just-used"])
async def test_the_async_engine_replaces_them_at_once(dsn: str, idle: bool,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "IDLE_CHECK_SECONDS", 0.2)
    engine = await AsyncEngine.connect(dsn, pool_size=POOL_SIZE)
    try:
        pids = await _fill(engine)
        assert _kill_every_session_of(dsn) >= POOL_SIZE
        if idle:
            await asyncio.sleep(0.3)  # past the idle check's threshold
        started = time.monotonic()
        assert await engine.list_runs() == []
        elapsed = time.monotonic() - started
        assert elapsed < BOUND, f"the first call after the kill took {elapsed:.1f}s"
        for _ in range(POOL_SIZE):  # and the calls after it
            assert await engine.list_runs() == []
        assert time.monotonic() - started < BOUND
        assert not pids & await _fill(engine)
    finally:
        await engine.close()


@pytest.mark.parametrize("idle", [True, False], ids=["idle", "just-used"])
def test_the_sync_engine_replaces_them_at_once(dsn: str, idle: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "IDLE_CHECK_SECONDS", 0.2)
    engine = htdag.connect(dsn, pool_size=POOL_SIZE)
    try:
        portal().call(_fill(engine.aio))
        assert _kill_every_session_of(dsn) >= POOL_SIZE
        if idle:
            time.sleep(0.3)
        started = time.monotonic()
        assert engine.list_runs() == []
        elapsed = time.monotonic() - started
        assert elapsed < BOUND, f"the first call after the kill took {elapsed:.1f}s"
        for _ in range(POOL_SIZE):
            assert engine.list_runs() == []
        assert time.monotonic() - started < BOUND
    finally:
        engine.close()
