"""What a handler returns must be JSON that PostgreSQL can store, within
max_output_bytes; anything else fails the task with a clear error, and the
worker goes on serving other runs."""

from __future__ import annotations

import math
from typing import Any

import pytest

from htdag import Flow
from htdag.core.engine import AsyncEngine
from htdag.errors import RunFailed

from .._support import Db, running_worker


def returning(value: Any, name: str = "returns") -> Flow:
    flow = Flow(name)

    @flow.step(max_attempts=3, base_delay=0)
    def produce(inp: Any) -> Any:
        return value

    return flow


def healthy() -> Flow:
    flow = Flow("healthy")

    @flow.step()
    async def fine(inp: Any) -> str:
        return f"served {inp['run']}"

    return flow


@pytest.mark.parametrize(
    ("value", "fragment"),
    [({1, 2}, "returned a value that is not JSON (set"),
     (math.nan, "returned a value that is not JSON (float"),
     ({"when": object()}, "returned a value that is not JSON (dict"),
     ({"text": "a\x00b"}, "NUL character")],
    ids=["set", "nan", "object", "nul"],
)
async def test_an_output_that_cannot_be_stored_fails_the_task_and_the_worker_goes_on(
        engine: AsyncEngine, db: Db, value: Any, fragment: str) -> None:
    bad, good = returning(value), healthy()
    async with running_worker(engine, [bad, good]) as worker:
        with pytest.raises(RunFailed) as caught:
            await engine.run(bad, None, timeout=10)
        assert await engine.run(good, 1, timeout=10) == {"fine": "served 1"}
        assert worker.tasks_completed == 1

    assert caught.value.step == "produce"
    assert fragment in caught.value.error
    assert "(attempt 1 of 3)" in caught.value.error  # not retried: it would fail again
    assert len(await db.rows("select * from htdag.attempts where outcome = 'failed'")) == 1


async def test_a_string_postgresql_cannot_store_fails_only_its_own_task(
        engine: AsyncEngine) -> None:
    bad, good = returning({"half": "\ud800 lone surrogate"}), healthy()
    async with running_worker(engine, [bad, good]):
        with pytest.raises(RunFailed) as caught:
            await engine.run(bad, None, timeout=10)
        assert await engine.run(good, 2, timeout=10) == {"fine": "served 2"}

    assert caught.value.step == "produce"
    assert "(attempt 1 of 3)" in caught.value.error


async def test_an_escaped_backslash_u0000_text_is_a_valid_output(engine: AsyncEngine) -> None:
    text = r"JSON writes NUL as \u0000"  # a backslash, not a NUL character
    flow = returning(text)
    async with running_worker(engine, [flow]):
        assert await engine.run(flow, None, timeout=10) == {"produce": text}


async def test_a_10_mb_output_is_stored_and_passed_on(engine: AsyncEngine, db: Db) -> None:
    flow = Flow("big")

    @flow.step()
    def produce(inp: Any) -> dict[str, Any]:
        return {"blob": "x" * 10_000_000, "n": 1}

    @flow.step(depends_on=["produce"])
    def measure(inp: Any) -> int:
        return len(inp["produce"]["blob"])

    async with running_worker(engine, [flow]):
        assert await engine.run(flow, None, timeout=30) == {"measure": 10_000_000}

    size = await db.value("select octet_length(output::text) from htdag.step_states"
                          " where step_name = 'produce'")
    assert size > 10_000_000


async def test_an_output_over_max_output_bytes_fails_clearly(engine: AsyncEngine) -> None:
    flow = returning("y" * 5000)
    async with running_worker(engine, [flow], max_output_bytes=4096):
        with pytest.raises(RunFailed) as caught:
            await engine.run(flow, None, timeout=10)

    assert "over the limit of" in caught.value.error
    assert "store large data elsewhere" in caught.value.error
    assert "(attempt 1 of 3)" in caught.value.error


async def test_an_output_just_under_max_output_bytes_is_accepted(engine: AsyncEngine) -> None:
    flow = returning("y" * 4000)
    async with running_worker(engine, [flow], max_output_bytes=4096):
        assert await engine.run(flow, None, timeout=10) == {"produce": "y" * 4000}
