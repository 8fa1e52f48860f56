"""htdag's private event loop (behind the sync API and Engine.start_worker)
survives whatever a handler does: raising SystemExit or KeyboardInterrupt, or
leaving behind a task that raises them later. Should the loop stop all the same,
every sync call waiting on it fails at once, and so does every later call."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import Any

import pytest

import htdag
from htdag import Flow
from htdag.core._portal import Portal
from htdag.core.errors import EventLoopStopped
from htdag.errors import RunFailed


def _flows() -> tuple[Flow, Flow, Flow]:
    exits, interrupts, fine = Flow("exits"), Flow("interrupts"), Flow("fine")

    @exits.step(max_attempts=1)
    def leave(inp: Any) -> None:
        sys.exit("a library gave up")

    @interrupts.step(max_attempts=1)
    async def interrupt(inp: Any) -> None:
        raise KeyboardInterrupt

    @fine.step()
    async def stray(inp: Any) -> str:
        async def later() -> None:
            raise SystemExit("from a task the handler left behind")

        asyncio.get_running_loop().create_task(later())
        return "done"

    return exits, interrupts, fine


def test_an_in_process_worker_and_the_callers_outlive_handlers_that_raise_exits(
        sync_engine: htdag.Engine) -> None:
    exits, interrupts, fine = _flows()
    with sync_engine.start_worker([exits, interrupts, fine], poll_interval=0.05) as worker:
        started = time.monotonic()
        with pytest.raises(RunFailed, match=r"SystemExit: a library gave up \(attempt 1 of 1\)"):
            sync_engine.start(exits).wait(timeout=10)
        with pytest.raises(RunFailed, match=r"KeyboardInterrupt \(attempt 1 of 1\)"):
            sync_engine.start(interrupts).wait(timeout=10)
        # The stray task raises SystemExit on the loop after its handler returned.
        for _ in range(3):
            assert sync_engine.start(fine).wait(timeout=10) == {"stray": "done"}
        assert time.monotonic() - started < 10
        assert worker.worker.tasks_failed == 2 and worker.worker.tasks_completed == 3
    # The loop still serves calls after the worker stopped.
    assert [r.status.value for r in sync_engine.list_runs()].count("failed") == 2


def test_calls_waiting_on_a_stopped_loop_fail_at_once_and_so_do_later_ones() -> None:
    portal = Portal()
    outcome: list[BaseException] = []

    def wait_forever() -> None:
        try:
            portal.call(asyncio.sleep(3600))
        except BaseException as exc:  # noqa: BLE001 - what the caller gets is the point
            outcome.append(exc)

    caller = threading.Thread(target=wait_forever)
    caller.start()
    try:
        time.sleep(0.2)  # the call is waiting on the loop
        portal.loop.call_soon_threadsafe(portal.loop.stop)
        caller.join(timeout=5)
        assert not caller.is_alive(), "a call waiting on a stopped loop hung"
        assert len(outcome) == 1 and isinstance(outcome[0], EventLoopStopped)
        assert "restart" in str(outcome[0])

        started = time.monotonic()
        with pytest.raises(EventLoopStopped):
            portal.call(asyncio.sleep(0))
        assert time.monotonic() - started < 1
        assert not portal.alive
    finally:
        caller.join(timeout=5)
        for task in asyncio.all_tasks(portal.loop):  # the sleep left pending
            task.cancel()
        portal.loop.run_until_complete(asyncio.sleep(0))
        portal.loop.close()
