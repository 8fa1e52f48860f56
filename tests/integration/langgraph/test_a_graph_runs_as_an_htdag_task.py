"""A compiled StateGraph runs as an htdag task through langgraph_handler: its
output is the graph's final state as JSON; a node that raises is retried by
htdag; the step's timeout and a cancelled run cancel the running node; a state
that is not JSON fails at once, saying where."""

from __future__ import annotations

import asyncio
import operator
from datetime import UTC, datetime
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from htdag import Flow, Planner
from htdag.core.engine import AsyncEngine
from htdag.decomposers import RuleDecomposer
from htdag.errors import RunCancelled, RunFailed
from htdag.handlers import HandlerRegistry
from htdag.integrations.langgraph import LangGraphHandler, langgraph_handler

from .._support import Db, running_worker


class Counter(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


class Nodes:
    """A counter graph's nodes: ``count`` adds one and logs, ``finish`` doubles;
    ``fail_first`` makes ``count`` raise on its first call, ``hang`` makes it wait
    until cancelled, ``bad_output`` makes ``finish`` leave a datetime in the state."""

    def __init__(self, *, fail_first: bool = False, hang: bool = False,
                 bad_output: bool = False) -> None:
        self.fail_first, self.hang, self.bad_output = fail_first, hang, bad_output
        self.count_calls = 0
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def count(self, state: Counter) -> dict[str, Any]:
        self.count_calls += 1
        self.started.set()
        if self.fail_first and self.count_calls == 1:
            raise RuntimeError("the counter slipped")
        if self.hang:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        return {"n": state["n"] + 1, "log": [f"count {state['n']}"]}

    def finish(self, state: Counter) -> dict[str, Any]:
        if self.bad_output:
            return {"log": [datetime(2026, 1, 1, tzinfo=UTC)]}
        return {"n": state["n"] * 2, "log": ["finish"]}

    def graph(self) -> CompiledStateGraph[Any, Any, Any, Any]:
        graph = StateGraph(Counter)
        graph.add_node("count", self.count)
        graph.add_node("finish", self.finish)
        graph.add_edge(START, "count")
        graph.add_edge("count", "finish")
        graph.add_edge("finish", END)
        return graph.compile(name="counter")


async def task_events(db: Db, run_id: Any) -> list[str]:
    rows = await db.rows("select kind from htdag.events where run_id = %s and kind like 'task.%%'"
                         " order by event_id", (run_id,))
    return [r["kind"] for r in rows]


def counter_flow(handler: LangGraphHandler, **options: Any) -> Flow:
    flow = Flow("counter", output="count")
    flow.add_step("count", handler, **options)
    return flow


async def test_the_graph_s_final_state_is_the_task_s_output(engine: AsyncEngine,
                                                            db: Db) -> None:
    flow = counter_flow(langgraph_handler(Nodes().graph(), name="counter"))
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, {"n": 4, "log": ["start"]})
        assert await run.wait(20) == {"n": 10, "log": ["start", "count 4", "finish"]}
    task = await db.task(run.run_id, "count")
    assert (task["status"], task["attempts_count"]) == ("completed", 1)



class Sum(TypedDict):
    n: int
    seed: int
    total: int


def sum_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    graph = StateGraph(Sum)
    graph.add_node("add", lambda state: {"total": state["n"] + state["seed"]})
    graph.add_edge(START, "add")
    graph.add_edge("add", END)
    return graph.compile()


async def test_a_step_s_dependencies_join_the_run_input_by_name(engine: AsyncEngine) -> None:
    flow = Flow("seeded sum", output="total")
    flow.add_step("seed", lambda inp: inp["run"]["n"] * 10)
    flow.add_step("total", langgraph_handler(sum_graph(), name="sum", output_key="total"),
                  depends_on=["seed"])
    async with running_worker(engine, [flow]):
        assert await (await engine.start(flow, {"n": 3})).wait(20) == 33


async def test_a_registered_graph_runs_in_a_planned_task_graph(engine: AsyncEngine) -> None:
    registry = HandlerRegistry()
    spec = registry.register(langgraph_handler(Nodes().graph(), name="count_from",
                                               input_key="n", output_key="n"))
    assert (spec.name, spec.parameters, spec.is_async) == ("count_from", ["input"], True)
    planner = Planner(RuleDecomposer([]), registry, engine=engine)
    result = await planner.acompose_graph({"goal": "count from 4", "tasks": [
        {"id": "counted", "handler": "count_from", "params": {"input": 4}}]}, timeout=20)
    assert result.output == 10


async def test_a_node_that_raises_once_is_retried_by_htdag(engine: AsyncEngine, db: Db) -> None:
    nodes = Nodes(fail_first=True)
    flow = counter_flow(langgraph_handler(nodes.graph(), name="counter.flaky"),
                        max_attempts=2, base_delay=0)
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, {"n": 1, "log": []})
        # The retry runs the graph again from the step's input.
        assert await run.wait(20) == {"n": 4, "log": ["count 1", "finish"]}
    assert nodes.count_calls == 2
    attempts = await db.attempts(run.run_id)
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "failed"), (2, "completed")]
    assert "RuntimeError: the counter slipped" in attempts[0]["error"]
    assert await task_events(db, run.run_id) == [
        "task.started", "task.retrying", "task.started", "task.completed"]


async def test_the_step_s_timeout_cancels_the_running_node(engine: AsyncEngine, db: Db) -> None:
    nodes = Nodes(hang=True)
    flow = counter_flow(langgraph_handler(nodes.graph(), name="counter.slow"),
                        timeout=0.5, max_attempts=1)
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, {"n": 1, "log": []})
        with pytest.raises(RunFailed, match=r"timed out after 0\.5s"):
            await run.wait(20)
        await asyncio.wait_for(nodes.cancelled.wait(), 5)
    assert nodes.count_calls == 1
    assert (await db.task(run.run_id, "count"))["status"] == "failed"
    assert [a["outcome"] for a in await db.attempts(run.run_id)] == ["timed_out"]
    assert await task_events(db, run.run_id) == ["task.started", "task.timed_out", "task.failed"]


async def test_cancelling_the_run_cancels_the_running_node(engine: AsyncEngine) -> None:
    nodes = Nodes(hang=True)
    flow = counter_flow(langgraph_handler(nodes.graph(), name="counter.hanging"))
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, {"n": 1, "log": []})
        await asyncio.wait_for(nodes.started.wait(), 10)
        assert not nodes.cancelled.is_set()
        await run.cancel()
        await asyncio.wait_for(nodes.cancelled.wait(), 5)
        with pytest.raises(RunCancelled):
            await run.wait(5)


async def test_a_state_that_is_not_json_fails_at_once_saying_where(engine: AsyncEngine,
                                                                   db: Db) -> None:
    nodes = Nodes(bad_output=True)
    flow = counter_flow(langgraph_handler(nodes.graph(), name="counter.dated"))
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, {"n": 1, "log": []})
        with pytest.raises(RunFailed) as info:
            await run.wait(20)
    message = str(info.value)
    assert "GraphStateNotJSON: graph 'counter.dated' returned a state htdag cannot store" in message
    assert "$.log[1] is a datetime.datetime, which is not JSON" in message
    task = await db.task(run.run_id, "count")
    assert (task["status"], task["attempts_count"]) == ("failed", 1)  # not retried

    # An input the graph cannot take fails at once too.
    flow = counter_flow(langgraph_handler(nodes.graph(), name="counter.listed"))
    async with running_worker(engine, [flow]):
        with pytest.raises(RunFailed, match="got a list as input, not an object of its state"):
            await (await engine.start(flow, [1, 2])).wait(20)
