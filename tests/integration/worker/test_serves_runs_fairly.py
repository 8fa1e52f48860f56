"""A run with a 10,000-task map step does not starve a small run started after
it: the ready set is served lowest task index first."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from htdag import Flow
from htdag.core.engine import AsyncEngine
from htdag.flows import RunStatus

from .._support import Db, eventually, running_worker


async def test_a_small_run_starts_within_a_second_behind_a_10000_task_map(
        engine: AsyncEngine, db: Db) -> None:
    big = Flow("big")

    @big.step(map=True)
    async def item(x: int) -> int:
        await asyncio.sleep(0.0005)
        return x

    small = Flow("small")
    probe_started = asyncio.Event()

    @small.step()
    async def probe(inp: Any) -> str:
        probe_started.set()
        return "ran"

    async with running_worker(engine, [big, small], concurrency=4) as worker:
        big_run = await engine.start(big, list(range(10_000)))
        await eventually(lambda: worker.tasks_completed >= 200, timeout=20)

        started = time.monotonic()
        small_run = await engine.start(small, None)
        try:
            await asyncio.wait_for(probe_started.wait(), 10)
        except TimeoutError:
            pytest.fail("the small run did not start within 10 s: starved by the big one")
        waited = time.monotonic() - started

        assert await small_run.wait(timeout=10) == {"probe": "ran"}
        queued = await db.value("select count(*) from htdag.tasks where run_id = %s"
                                " and status = 'queued'", (big_run.run_id,))
        assert queued > 5000  # the big run was still far from done
        assert await big_run.cancel() is RunStatus.CANCELLED

    assert waited < 1.0, f"the small run waited {waited:.2f}s"
    assert await db.value("select count(*) from htdag.tasks where run_id = %s"
                          " and status in ('queued', 'started')", (big_run.run_id,)) == 0
