"""A NUL character (U+0000), which PostgreSQL cannot store in text or JSON, in
any input raises InvalidInput naming the field and what to do, and nothing is
stored. A handler output with one fails its task, naming the path."""

from __future__ import annotations

from typing import Any

import pytest

import htdag
from htdag import Flow
from htdag.composer import acompose_from_goal, acompose_from_task_graph
from htdag.core.engine import AsyncEngine
from htdag.core.errors import InvalidInput
from htdag.errors import RunFailed

from .._support import Db, running_worker


def _echo_flow(name: str = "echo") -> Flow:
    flow = Flow(name)

    @flow.step()
    def echo(inp: Any) -> Any:
        return inp["run"]

    return flow


@pytest.mark.parametrize(("value", "where"), [
    ("a\x00b", "the run input has a NUL character (\\u0000), "),
    ({"doc": ["ok", {"body": "x\x00"}]}, "at $.doc[1].body,"),
    ({"key\x00": 1}, "(the key)"),
])
async def test_a_run_input_with_a_nul_is_refused_and_no_run_is_made(
        engine: AsyncEngine, db: Db, value: Any, where: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await engine.start(_echo_flow(), value)
    assert where in str(caught.value)
    assert "remove it" in str(caught.value)
    assert await db.value("select count(*) from htdag.runs") == 0


def test_the_sync_api_and_names_say_the_same(sync_engine: htdag.Engine) -> None:
    with pytest.raises(InvalidInput, match="the run input has a NUL"):
        sync_engine.start(_echo_flow(), {"a": "\x00"})
    with pytest.raises(InvalidInput, match=r"^the flow name has a NUL"):
        Flow("bad\x00name")
    flow = Flow("f")
    with pytest.raises(InvalidInput, match=r"^flow 'f': a step name has a NUL"):
        flow.add_step("st\x00ep", "some.handler")
    with pytest.raises(InvalidInput, match=r"^step 'step': the handler name has a NUL"):
        flow.add_step("step", "some\x00handler")


async def test_a_goal_context_or_task_graph_with_a_nul_is_refused(
        engine: AsyncEngine, db: Db) -> None:
    with pytest.raises(InvalidInput, match=r"^the goal has a NUL character"):
        await acompose_from_goal("summarize \x00 this", engine=engine, start_worker=False)
    with pytest.raises(InvalidInput, match=r"^the context has a NUL character .* at \$\.user"):
        await acompose_from_goal("summarize this", engine=engine, start_worker=False,
                                 context={"user": "a\x00"})
    graph = {"goal": "g", "tasks": [{"id": "a", "handler": "llm", "params": {"q": "x\x00"}}]}
    with pytest.raises(InvalidInput, match=r"^the task graph has a NUL .* at \$\.tasks\[0\]"
                                           r"\.params\.q"):
        await acompose_from_task_graph(graph, engine=engine, start_worker=False)
    assert await db.value("select count(*) from htdag.runs") == 0
    assert await db.value("select count(*) from htdag.events") == 0


async def test_what_reaches_the_database_anyway_is_invalid_input(engine: AsyncEngine) -> None:
    # A path that checks nothing itself: the SQLSTATE maps to the same error.
    with pytest.raises(InvalidInput, match="remove NUL characters"):
        await engine.store.record_event("custom.kind", None, {"note": "a\x00b"})


async def test_a_handler_output_with_a_nul_fails_the_task_naming_the_path(
        engine: AsyncEngine) -> None:
    flow = Flow("nul_out")

    @flow.step()
    def produce(inp: Any) -> Any:
        return {"rows": [{"name": "ok"}, {"name": "bad\x00"}]}

    async with running_worker(engine, [flow]):
        with pytest.raises(RunFailed) as caught:
            await engine.run(flow, None, timeout=10)
    assert "NUL character (\\u0000) at $.rows[1].name" in caught.value.error
