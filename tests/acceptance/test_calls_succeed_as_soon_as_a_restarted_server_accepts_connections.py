"""A server restart closes every pooled connection. The first call after it
succeeds within a second of the server accepting connections again, whether it
is made after the restart or was waiting through it. Before the fix the pool
checked its dead connections one by one, backing off 1, 2, 4, 8 s between them
(15-29 s, or PoolTimeout after 30 s), and its reconnection backed off likewise.

The server is a private embedded one: the shared test server is never stopped."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _acceptance import private_server

import htdag
from htdag.core import embedded
from htdag.core._portal import portal

pytestmark = pytest.mark.acceptance

POOL_SIZE = 10
BOUND = 1.5  # seconds after the server accepts connections; 15-30 s before the fix


@pytest.fixture(scope="module")
def own_server() -> Iterator[tuple[Path, str]]:
    with private_server() as server:
        yield server


@pytest.fixture
def engine(own_server: tuple[Path, str]) -> Iterator[htdag.Engine]:
    """A sync engine whose pool holds POOL_SIZE connections, all in use lately."""
    _, url = own_server
    engine = htdag.connect(url, pool_size=POOL_SIZE)
    try:
        engine.list_runs()  # imports what the call needs: not what the test times

        async def fill() -> None:
            pool = engine.aio.db.pool
            await pool.resize(POOL_SIZE, POOL_SIZE)
            await pool.wait(timeout=10)
            conns = [await pool.getconn() for _ in range(POOL_SIZE)]
            for conn in conns:
                await pool.putconn(conn)

        portal().call(fill())
        yield engine
    finally:
        engine.close()


def test_the_first_call_after_a_restart_succeeds_at_once(
        own_server: tuple[Path, str], engine: htdag.Engine) -> None:
    pgdata, url = own_server
    assert embedded.restart_server(pgdata) == url  # returns once it accepts connections
    started = time.monotonic()
    assert engine.list_runs() == []
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"the first call after the restart took {elapsed:.1f}s"
    for _ in range(POOL_SIZE):  # every connection was replaced
        engine.list_runs()
    assert time.monotonic() - started < BOUND


def test_a_call_waiting_through_an_outage_succeeds_once_the_server_is_back(
        own_server: tuple[Path, str], engine: htdag.Engine) -> None:
    pgdata, url = own_server
    assert embedded.stop_server(pgdata)
    result: dict[str, Any] = {}

    def call() -> None:
        try:
            result["runs"] = engine.list_runs()
        except Exception as exc:  # noqa: BLE001 - raised again in the test's thread
            result["error"] = exc
        result["at"] = time.monotonic()

    caller = threading.Thread(target=call, name="caller")
    caller.start()
    try:
        time.sleep(4)  # the pool's reconnection would back off to 4 s and more meanwhile
        assert "at" not in result, f"the call ended during the outage: {result}"
        assert embedded.ensure_server(pgdata) == url  # returns once it accepts connections
        back = time.monotonic()
    finally:
        if embedded.server_status(pgdata)["running"] is False:
            embedded.ensure_server(pgdata)
        caller.join(35)
    assert "error" not in result, result
    assert result["runs"] == []
    waited = result["at"] - back
    assert waited < BOUND, f"the call succeeded {waited:.1f}s after the server was back"
