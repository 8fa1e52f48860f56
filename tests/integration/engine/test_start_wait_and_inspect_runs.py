"""The async engine: start a run, wait for its output, inspect it, list runs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from htdag import Flow
from htdag.core.engine import AsyncEngine
from htdag.core.models import Run, RunDetails, StepState, Task
from htdag.flows import RunStatus, StepStatus, TaskStatus

from .._support import Db, running_worker


def doubling_flow(name: str = "doubling") -> Flow:
    flow = Flow(name)

    @flow.step()
    def double(inp: Any) -> int:
        return int(inp["run"]["x"]) * 2

    @flow.step(depends_on=["double"])
    def describe(inp: Any) -> str:
        return f"{inp['run']['x']} doubled is {inp['double']}"

    return flow


async def test_start_then_wait_returns_the_run_output(engine: AsyncEngine) -> None:
    flow = doubling_flow()
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, {"x": 21})
        output = await run.wait(timeout=10)

    assert output == {"describe": "21 doubled is 42"}
    assert isinstance(run.run_id, uuid.UUID)
    assert await engine.wait(str(run.run_id), timeout=1) == output


async def test_run_starts_and_waits_in_one_call(engine: AsyncEngine) -> None:
    flow = doubling_flow()
    async with running_worker(engine, [flow]):
        assert await engine.run(flow, {"x": 1}, timeout=10) == {"describe": "1 doubled is 2"}


async def test_status_returns_read_models_with_steps_and_tasks(engine: AsyncEngine) -> None:
    flow = doubling_flow()
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, {"x": 2})
        await run.wait(timeout=10)

    details = await engine.status(run.run_id)

    assert isinstance(details, RunDetails)
    assert isinstance(details.run, Run)
    assert details.status is RunStatus.COMPLETED
    assert details.run.run_id == run.run_id
    assert details.run.flow_hash == flow.hash
    assert details.run.input == {"x": 2}
    assert details.run.output == {"describe": "2 doubled is 4"}
    assert details.run.completed_at is not None
    assert all(isinstance(s, StepState) for s in details.steps)
    assert [(s.step_name, s.status, s.output) for s in details.steps] == [
        ("double", StepStatus.COMPLETED, 4), ("describe", StepStatus.COMPLETED, "2 doubled is 4")]
    assert all(isinstance(t, Task) for t in details.tasks)
    assert {(t.step_name, t.status, t.attempts_count) for t in details.tasks} == {
        ("double", TaskStatus.COMPLETED, 1), ("describe", TaskStatus.COMPLETED, 1)}
    assert details.progress() == (2, 2)
    assert (await run.status()).run == details.run


async def test_status_of_a_running_run_shows_its_progress(engine: AsyncEngine) -> None:
    flow = doubling_flow()
    run = await engine.start(flow, {"x": 2})

    details = await engine.status(str(run.run_id))

    assert details.status is RunStatus.RUNNING
    assert details.run.remaining_steps == 2
    assert [(s.step_name, s.status) for s in details.steps] == [
        ("double", StepStatus.STARTED), ("describe", StepStatus.CREATED)]
    assert [(t.step_name, t.status) for t in details.tasks] == [("double", TaskStatus.QUEUED)]
    assert details.progress() == (0, 1)


async def test_list_runs_filters_by_status_and_flow_newest_first(
        engine: AsyncEngine, db: Db) -> None:
    one, two = doubling_flow("one"), doubling_flow("two")
    first = await engine.start(one, {"x": 1})
    second = await engine.start(two, {"x": 1})
    third = await engine.start(one, {"x": 1})
    await engine.cancel(second.run_id)

    everything = await engine.list_runs()
    assert [r.run_id for r in everything] == [third.run_id, second.run_id, first.run_id]
    assert all(isinstance(r, Run) for r in everything)
    assert [r.run_id for r in await engine.list_runs(flow="one")] == [
        third.run_id, first.run_id]
    assert [r.run_id for r in await engine.list_runs(status="cancelled")] == [second.run_id]
    assert [r.run_id for r in await engine.list_runs(status=RunStatus.RUNNING, flow="two")] == []
    assert [r.run_id for r in await engine.list_runs(limit=1)] == [third.run_id]
    with pytest.raises(ValueError):
        await engine.list_runs(status="exploded")


async def test_list_runs_finds_child_runs_by_parent(engine: AsyncEngine) -> None:
    flow = doubling_flow()
    parent = await engine.start(flow, {"x": 1})
    child = await engine.start(flow, {"x": 2}, parent_run_id=str(parent.run_id))

    children = await engine.list_runs(parent_run_id=parent.run_id)

    assert [r.run_id for r in children] == [child.run_id]
    assert children[0].parent_run_id == parent.run_id
    assert children[0].root_run_id == parent.run_id


async def test_a_flow_is_stored_once_however_often_it_is_started(
        engine: AsyncEngine, db: Db) -> None:
    flow = doubling_flow()
    await engine.start(flow, {"x": 1})
    await engine.start(doubling_flow(), {"x": 2})

    assert await db.value("select count(*) from htdag.flows") == 1
    assert await db.value("select count(*) from htdag.runs") == 2
