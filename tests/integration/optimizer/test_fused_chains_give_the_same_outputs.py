"""A graph whose chain of short tasks is fused runs on a real engine and worker
to the same output, with the same outputs of the tasks that were not fused, in
fewer tasks; a member that raises fails the fused task with its error, and the
fused task is retried as a whole."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest

from htdag import Planner
from htdag.core.context import TaskContext
from htdag.core.engine import AsyncEngine
from htdag.decomposers import RuleDecomposer
from htdag.errors import RunFailed
from htdag.flow_builder import build_flow
from htdag.graph import TaskGraph
from htdag.handlers import HandlerRegistry
from htdag.optimizer.restructure import FUSED, fuse_short_chains

from .._support import Db, running_worker

SHORT = {"inc": 0.001, "double": 0.001, "label": 0.001, "boom": 0.001}


class Tools:
    """Sync and async handlers; ``calls`` counts calls, ``runs`` the run ids
    that ``inc`` saw in its context."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.runs: list[uuid.UUID] = []
        self.registry = HandlerRegistry()
        reg, calls = self.registry, self.calls

        @reg.handler("numbers")
        async def numbers(n: int) -> list[int]:
            calls["numbers"] += 1
            return list(range(10, 10 + n))

        @reg.handler("inc")
        def inc(value: int, ctx: TaskContext) -> int:
            calls["inc"] += 1
            self.runs.append(ctx.run_id)
            return value + 1

        @reg.handler("double")
        async def double(value: int) -> int:
            calls["double"] += 1
            await asyncio.sleep(0)
            return value * 2

        @reg.handler("label")
        def label(value: int, task_description: str) -> tuple[int, str]:
            calls["label"] += 1
            return (value, task_description)  # a tuple: stored (and passed on) as a list

        @reg.handler("total")
        async def total(parts: list[Any]) -> dict[str, Any]:
            calls["total"] += 1
            return {"parts": parts, "count": len(parts)}

        @reg.handler("boom")
        async def boom(value: int, ctx: TaskContext) -> int:
            calls["boom"] += 1
            raise RuntimeError(f"boom at {value} (attempt {ctx.attempt})")


def fan_out_chain_fan_in() -> TaskGraph:
    """src fans out to a chain left > a > b > c and to right; join fans them in."""
    return TaskGraph.parse({"goal": "fused chains", "output": "join", "tasks": [
        {"id": "src", "handler": "numbers", "params": {"n": 3}},
        {"id": "left", "handler": "inc", "params": {"value": "$src.0"}},
        {"id": "a", "handler": "double", "params": {"value": "$left"}},
        {"id": "b", "handler": "label", "description": "$ the label",
         "params": {"value": "$a"}},
        {"id": "c", "handler": "inc", "params": {"value": "$b.0"}},
        {"id": "right", "handler": "double", "params": {"value": "$src.1"}},
        {"id": "join", "handler": "total",
         "params": {"parts": ["$c", "$right", "$src", "$$literal"]}},
    ]})


async def run_graph(engine: AsyncEngine, graph: TaskGraph) -> uuid.UUID:
    flow, run_input = build_flow(graph, name="fused-test:" + "-".join(t.id for t in graph.tasks))
    run = await engine.start(flow, run_input)
    await run.wait(20)
    return run.run_id


async def outputs_by_step(engine: AsyncEngine, run_id: uuid.UUID) -> dict[str, Any]:
    status = await engine.status(run_id)
    assert len({t.step_name for t in status.tasks}) == len(status.tasks)  # one task a step
    return {t.step_name: t.output for t in status.tasks}


async def test_a_fused_chain_gives_the_same_outputs_in_fewer_tasks(engine: AsyncEngine) -> None:
    tools = Tools()
    graph = fan_out_chain_fan_in()
    decision = fuse_short_chains(graph, SHORT)
    assert decision.fused == (("left", "a", "b", "c"),)
    assert decision.graph.task("c").handler == FUSED
    handlers = Planner(RuleDecomposer([]), tools.registry).worker_handlers()
    async with running_worker(engine, handlers):
        plain_run = await run_graph(engine, graph)
        fused_run = await run_graph(engine, decision.graph)
    plain = await outputs_by_step(engine, plain_run)
    fused = await outputs_by_step(engine, fused_run)
    assert (await engine.status(plain_run)).run.output == plain["join"]
    assert (await engine.status(fused_run)).run.output == fused["join"]
    # src [10, 11, 12]; left 11, a 22, b [22, "$ the label"], c 23; right 22.
    assert plain["join"] == {"parts": [23, 22, [10, 11, 12], "$literal"], "count": 4}
    assert plain["b"] == [22, "$ the label"]
    assert set(plain) == {"src", "left", "a", "b", "c", "right", "join"}
    assert set(fused) == {"src", "c", "right", "join"}
    assert {k: plain[k] for k in fused} == fused
    assert tools.calls == {"numbers": 2, "inc": 4, "double": 4, "label": 2, "total": 2}
    # inc got the context of its own task's run, fused or not.
    assert tools.runs == [plain_run, plain_run, fused_run, fused_run]


def failing_chain(attempts: int) -> TaskGraph:
    options = {"max_attempts": attempts, "base_delay": 0, "max_delay": 0}
    return TaskGraph.parse({"goal": "a failing chain", "tasks": [
        {"id": "x", "handler": "inc", "params": {"value": 1}, "options": options},
        {"id": "y", "handler": "boom", "params": {"value": "$x"}, "options": options},
        {"id": "z", "handler": "inc", "params": {"value": "$y"}, "options": options},
    ]})


async def failure_of(engine: AsyncEngine, tools: Tools, graph: TaskGraph) -> RunFailed:
    handlers = Planner(RuleDecomposer([]), tools.registry).worker_handlers()
    async with running_worker(engine, handlers):
        with pytest.raises(RunFailed) as info:
            await run_graph(engine, graph)
    return info.value


async def test_a_failing_member_fails_the_fused_task_with_its_error(
        engine: AsyncEngine, db: Db) -> None:
    graph = failing_chain(attempts=2)
    decision = fuse_short_chains(graph, SHORT)
    assert decision.fused == (("x", "y", "z"),)
    plain_tools, fused_tools = Tools(), Tools()
    plain = await failure_of(engine, plain_tools, graph)
    fused = await failure_of(engine, fused_tools, decision.graph)
    # The same error either way; fused, it is the fused task's (named after z).
    assert "RuntimeError: boom at 2 (attempt 2)" in plain.error
    assert fused.error == plain.error
    assert (plain.step, fused.step) == ("y", "z")
    outcomes = {}
    for name, failed in (("plain", plain), ("fused", fused)):
        attempts = await db.attempts(failed.run_id)
        outcomes[name] = [(a["step_name"], a["attempt"], a["outcome"]) for a in attempts]
    assert outcomes == {
        "plain": [("x", 1, "completed"), ("y", 1, "failed"), ("y", 2, "failed")],
        "fused": [("z", 1, "failed"), ("z", 2, "failed")]}
    # Fused, the whole chain ran again on the retry (x twice); z itself never ran.
    assert plain_tools.calls == {"inc": 1, "boom": 2}
    assert fused_tools.calls == {"inc": 2, "boom": 2}
