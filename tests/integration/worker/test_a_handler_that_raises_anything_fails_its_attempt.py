"""Whatever a handler raises fails that attempt, BaseException subclasses
included (SystemExit, KeyboardInterrupt, a custom one, a CancelledError of its
own, a TimeoutError of its own, an exception whose str() raises): the attempt
and the task record the exception's type and message, the task is retried
within max_attempts, and the worker lives on and runs the next task."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from htdag import Flow
from htdag.core.engine import AsyncEngine
from htdag.errors import RunFailed

from .._support import Db, running_worker


class CustomBaseException(BaseException):
    """Derives from BaseException, as some libraries' control-flow exceptions do."""


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("cannot print me")


RAISERS: dict[str, tuple[Callable[[], BaseException], str]] = {
    "system_exit": (lambda: SystemExit("library called sys.exit"),
                    "SystemExit: library called sys.exit"),
    "system_exit_code": (lambda: SystemExit(3), "SystemExit: 3"),
    "keyboard_interrupt": (lambda: KeyboardInterrupt("stray Ctrl-C handler"),
                           "KeyboardInterrupt: stray Ctrl-C handler"),
    "custom_base_exception": (lambda: CustomBaseException("escape hatch"),
                              "CustomBaseException: escape hatch"),
    "own_cancelled_error": (lambda: asyncio.CancelledError("inner task cancelled"),
                            "CancelledError: inner task cancelled"),
    "own_timeout_error": (lambda: TimeoutError("socket timed out"),
                          "TimeoutError: socket timed out"),
    "unprintable": (Unprintable, "Unprintable: (its message could not be read)"),
}


def _flow(kind: str, make: Callable[[], BaseException], sync: bool) -> Flow:
    flow = Flow(f"raises_{kind}_{'sync' if sync else 'async'}")
    if sync:
        @flow.step(max_attempts=2, base_delay=0, max_delay=0)
        def boom(inp: Any) -> None:
            raise make()
    else:
        @flow.step(max_attempts=2, base_delay=0, max_delay=0)
        async def boom(inp: Any) -> None:
            raise make()
    return flow


def _fine_flow() -> Flow:
    flow = Flow(f"fine_{uuid.uuid4().hex[:8]}")

    @flow.step()
    async def fine(inp: Any) -> Any:
        return inp

    return flow


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("kind", sorted(RAISERS))
async def test_whatever_a_handler_raises_fails_the_attempt_and_the_worker_goes_on(
        engine: AsyncEngine, db: Db, kind: str, sync: bool) -> None:
    make, described = RAISERS[kind]
    flow, fine = _flow(kind, make, sync), _fine_flow()
    async with running_worker(engine, [flow, fine], poll_interval=0.02) as worker:
        with pytest.raises(RunFailed) as caught:
            await engine.run(flow, None, timeout=15)
        assert caught.value.error == f"{described} (attempt 2 of 2)"
        # The same worker runs the next task.
        assert await engine.run(fine, {"x": 1}, timeout=15) == {"fine": {"run": {"x": 1}}}
        assert worker.tasks_failed == 2

    run_id = caught.value.run_id
    attempts = await db.attempts(run_id)
    assert [(a["attempt"], a["outcome"], a["error"]) for a in attempts] == [
        (1, "failed", described), (2, "failed", described)]
    task = await db.task(run_id, "boom")
    assert (task["status"], task["error"]) == ("failed", described)


async def test_a_handler_that_times_out_is_told_apart_from_one_raising_timeout_error(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("slow_and_timed_out")

    @flow.step(timeout=0.1, max_attempts=1)
    async def slow(inp: Any) -> None:
        await asyncio.sleep(5)

    async with running_worker(engine, [flow], poll_interval=0.02):
        with pytest.raises(RunFailed) as caught:
            await engine.run(flow, None, timeout=15)
    assert caught.value.error == "timed out after 0.1s (attempt 1 of 1)"
