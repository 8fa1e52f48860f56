"""What the engine raises: timeouts, failures, cancellations, unknown ids,
unknown flows, and inputs that are not JSON."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from htdag import Flow, NonRetryableError
from htdag.core.engine import AsyncEngine
from htdag.core.errors import FlowCycleError
from htdag.errors import (
    InvalidInput,
    RunCancelled,
    RunFailed,
    UnknownFlowError,
    UnknownRunError,
    WaitTimeout,
)
from htdag.flows import RunStatus

from .._support import Db, running_worker


def one_step_flow(name: str = "single") -> Flow:
    flow = Flow(name)

    @flow.step()
    def echo(inp: Any) -> Any:
        return inp["run"]

    return flow


async def test_wait_raises_wait_timeout_and_the_run_goes_on(engine: AsyncEngine) -> None:
    run = await engine.start(one_step_flow(), "x")  # no worker: it cannot finish
    started = time.monotonic()

    with pytest.raises(WaitTimeout, match=r"did not finish within 0\.3s") as caught:
        await run.wait(timeout=0.3)

    assert 0.25 <= time.monotonic() - started < 3
    assert isinstance(caught.value, TimeoutError)
    assert (await run.status()).status is RunStatus.RUNNING


async def test_wait_wakes_up_when_the_run_finishes(engine: AsyncEngine) -> None:
    flow = one_step_flow()
    run = await engine.start(flow, "x")
    waiter = asyncio.create_task(run.wait(timeout=30))
    await asyncio.sleep(0.2)
    assert not waiter.done()

    async with running_worker(engine, [flow]):
        started = time.monotonic()
        assert await waiter == {"echo": "x"}
        assert time.monotonic() - started < 3  # woken by NOTIFY, not the 5 s poll


async def test_a_failed_run_raises_run_failed_with_its_step_and_error(
        engine: AsyncEngine) -> None:
    flow = Flow("failing")

    @flow.step()
    def ok(inp: Any) -> int:
        return 1

    @flow.step(depends_on=["ok"], max_attempts=3)
    def explode(inp: Any) -> int:
        raise NonRetryableError("the input is wrong: fix it")

    async with running_worker(engine, [flow]):
        run = await engine.start(flow, None)
        with pytest.raises(RunFailed) as caught:
            await run.wait(timeout=10)

    failure = caught.value
    assert failure.run_id == run.run_id
    assert failure.step == "explode"
    assert failure.task_index == 0
    assert "NonRetryableError: the input is wrong: fix it" in failure.error
    assert "(attempt 1 of 3)" in failure.error
    assert f"run {run.run_id} failed in step 'explode' (task 0)" in str(failure)
    assert (await run.status()).status is RunStatus.FAILED


async def test_a_cancelled_run_raises_run_cancelled(engine: AsyncEngine) -> None:
    run = await engine.start(one_step_flow(), None)

    assert await run.cancel() is RunStatus.CANCELLED

    with pytest.raises(RunCancelled) as caught:
        await run.wait(timeout=5)
    assert caught.value.run_id == run.run_id
    details = await run.status()
    assert details.status is RunStatus.CANCELLED
    assert [t.status.value for t in details.tasks] == ["cancelled"]


async def test_cancel_of_a_finished_run_returns_its_status(engine: AsyncEngine) -> None:
    flow = one_step_flow()
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, 1)
        await run.wait(timeout=10)

    assert await engine.cancel(run.run_id) is RunStatus.COMPLETED
    assert (await run.status()).status is RunStatus.COMPLETED


@pytest.mark.parametrize("run_id", [uuid.uuid4(), str(uuid.uuid4())])
async def test_an_unknown_run_id_raises_unknown_run_error(
        engine: AsyncEngine, run_id: Any) -> None:
    with pytest.raises(UnknownRunError):
        await engine.status(run_id)
    with pytest.raises(UnknownRunError):
        await engine.wait(run_id, timeout=1)
    with pytest.raises(UnknownRunError):
        await engine.cancel(run_id)


@pytest.mark.parametrize("run_id", ["not-a-uuid", "", "12345"])
async def test_a_run_id_that_is_not_a_uuid_raises_unknown_run_error(
        engine: AsyncEngine, run_id: str) -> None:
    for call in (engine.status(run_id), engine.wait(run_id, timeout=1), engine.cancel(run_id)):
        with pytest.raises(UnknownRunError, match="UUID"):
            await call
    with pytest.raises(UnknownRunError):
        await engine.start(one_step_flow(), None, parent_run_id=run_id)
    with pytest.raises(UnknownRunError):
        await engine.list_runs(parent_run_id=run_id)


async def test_a_run_can_be_started_by_the_name_or_hash_of_a_stored_flow(
        engine: AsyncEngine, dsn: str) -> None:
    flow = one_step_flow("stored")
    flow_hash = await engine.store_flow(flow)

    other = await AsyncEngine.connect(dsn)  # knows nothing of the Flow object
    try:
        by_name = await other.start("stored", "by name")
        by_hash = await other.start(flow_hash, "by hash")
        with pytest.raises(UnknownFlowError, match="'nothing'"):
            await other.start("nothing", None)
    finally:
        await other.close()

    async with running_worker(engine, [flow]):
        assert await engine.wait(by_name.run_id, timeout=10) == {"echo": "by name"}
        assert await engine.wait(by_hash.run_id, timeout=10) == {"echo": "by hash"}


async def test_starting_by_name_picks_the_latest_stored_version(
        engine: AsyncEngine, db: Db) -> None:
    old = one_step_flow("versioned")
    new = old.with_options({"echo": {"max_attempts": 7}})
    await engine.store_flow(old)
    await engine.store_flow(new)

    run = await engine.start("versioned", None)

    assert (await run.status()).run.flow_hash == new.hash


@pytest.mark.parametrize("value", [{1, 2}, float("nan"), {"x": float("inf")}, object(),
                                   {"bytes": b"raw"}, {(1, 2): "tuple key"}])
async def test_a_run_input_that_is_not_json_raises_invalid_input(
        engine: AsyncEngine, db: Db, value: Any) -> None:
    with pytest.raises(InvalidInput, match="not JSON"):
        await engine.start(one_step_flow(), value)

    assert await db.value("select count(*) from htdag.runs") == 0


async def test_an_invalid_flow_is_refused_before_anything_is_stored(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("cyclic")
    flow.add_step("a", "h", depends_on=["b"])
    flow.add_step("b", "h", depends_on=["a"])

    with pytest.raises(FlowCycleError, match="a -> b -> a"):
        await engine.start(flow, None)

    assert await db.value("select count(*) from htdag.flows") == 0
