"""compose_from_goal and friends: decompose, build, start, wait; an in-process
worker when none serves the handlers; many goals at once."""

from __future__ import annotations

import time
from typing import Any

import pytest

import htdag
from htdag.composer import (
    ComposeResult,
    Planner,
    acompose_from_goal,
    acompose_from_task_graph,
    compose_from_goal,
    compose_from_task_graph,
    compose_multiple_workflows,
)
from htdag.core.engine import AsyncEngine
from htdag.decomposers import Rule, RuleDecomposer
from htdag.errors import RunFailed, WaitTimeout
from htdag.flows import RunStatus
from htdag.graph import TaskGraph
from htdag.handlers import HandlerRegistry

from .._support import Db, running_worker
from ._planning import World


def report(topic: str, limit: int = 3) -> dict[str, Any]:
    """What the world's research plan returns for a topic."""
    return {"topic": topic, "sources": [f"{topic}/{i}" for i in range(limit)],
            "words": limit * len(topic)}


def assert_composed(result: ComposeResult, goal: str) -> None:
    assert isinstance(result, ComposeResult)
    assert result.status is RunStatus.COMPLETED
    assert result.decomposer == "rules"
    assert isinstance(result.graph, TaskGraph) and result.graph.goal == goal
    assert set(result.timings) == {"decompose_ms", "build_ms", "start_ms", "run_ms",
                                   "total_ms"}
    assert all(v >= 0 for v in result.timings.values())
    assert result.timings["total_ms"] == pytest.approx(
        sum(v for k, v in result.timings.items() if k != "total_ms"))


def test_compose_from_goal_sync(dsn: str, world: World) -> None:
    engine = htdag.connect(dsn)
    try:
        result = compose_from_goal("research postgres", engine=engine, decomposer=world.rules,
                                   handlers=world.registry, timeout=20)
        assert_composed(result, "research postgres")
        assert result.output == report("postgres")
        assert [t.id for t in result.graph.tasks] == ["search", "summarize", "report"]
        run = engine.status(result.run_id).run
        assert run.status is RunStatus.COMPLETED and run.output == result.output
        assert len(engine.list_workers()) == 1  # the in-process worker it started
    finally:
        engine.close()
    # Closing the engine stopped that worker.
    with htdag.connect(dsn) as check:
        [worker] = check.list_workers()
        assert worker.stopped_at is not None


async def test_acompose_from_goal(engine: AsyncEngine, world: World) -> None:
    result = await acompose_from_goal("compare pg with redis", engine=engine,
                                      decomposer=world.rules, handlers=world.registry,
                                      timeout=20)
    assert_composed(result, "compare pg with redis")
    assert result.output == {"compared": ["pg", "redis"], "sources": 6}


async def test_without_waiting_it_returns_the_running_run(engine: AsyncEngine,
                                                          world: World) -> None:
    result = await acompose_from_goal("research pg", engine=engine, decomposer=world.rules,
                                      handlers=world.registry, wait=False)
    assert result.status is RunStatus.RUNNING and result.output is None
    assert "run_ms" not in result.timings
    assert await engine.wait(result.run_id, timeout=20) == report("pg")


async def test_failures_and_timeouts_reach_the_caller(engine: AsyncEngine,
                                                      world: World) -> None:
    with pytest.raises(RunFailed, match="kaboom failed") as info:
        await acompose_from_goal("fail kaboom", engine=engine, decomposer=world.rules,
                                 handlers=world.registry, timeout=20)
    assert info.value.step == "boom"
    with pytest.raises(WaitTimeout, match="it goes on running"):
        await acompose_from_goal("block slowly", engine=engine, decomposer=world.rules,
                                 handlers=world.registry, timeout=0.3)
    # The run goes on (the error names it, but carries no run id: find it to cancel it).
    [run] = await engine.list_runs(status="running")
    assert await engine.cancel(run.run_id) is RunStatus.CANCELLED


async def test_it_starts_one_in_process_worker_when_none_serves_the_handlers(
        engine: AsyncEngine, world: World) -> None:
    assert await engine.list_workers() == []
    await acompose_from_goal("research pg", engine=engine, decomposer=world.rules,
                             handlers=world.registry, timeout=20)
    [worker] = await engine.list_workers()
    names = world.registry.names()
    assert set(worker.handlers) == {*names, *(f"map:{n}" for n in names), "htdag.map_items",
                                    "htdag.subgoal", "htdag.carried", "htdag.fused"}
    assert worker.stopped_at is None
    # The next goal is served by the same worker.
    await acompose_from_goal("research redis", engine=engine, decomposer=world.rules,
                             handlers=world.registry, timeout=20)
    assert [w.worker_id for w in await engine.list_workers()] == [worker.worker_id]


async def test_it_starts_no_worker_when_a_live_one_serves_the_handlers(
        engine: AsyncEngine, world: World, db: Db) -> None:
    # Another worker with the same handler set (as another process would register it).
    handlers = Planner(world.rules, world.registry).worker_handlers()
    async with running_worker(engine, handlers) as external:
        result = await acompose_from_goal("compare pg with redis", engine=engine,
                                          decomposer=world.rules, handlers=world.registry,
                                          timeout=20)
        assert result.output == {"compared": ["pg", "redis"], "sources": 6}
        assert [w.worker_id for w in await engine.list_workers()] == [external.worker_id]
        workers = await db.rows("select distinct worker_id from htdag.tasks")
        assert workers == [{"worker_id": external.worker_id}]


async def test_a_live_worker_without_some_handler_does_not_count(
        engine: AsyncEngine, world: World) -> None:
    handlers = Planner(world.rules, world.registry).worker_handlers()
    del handlers["map:summarize"]
    async with running_worker(engine, handlers) as partial:
        await acompose_from_goal("research pg", engine=engine, decomposer=world.rules,
                                 handlers=world.registry, timeout=20)
        workers = await engine.list_workers()
        assert len(workers) == 2 and partial.worker_id in {w.worker_id for w in workers}


async def test_a_stopped_worker_does_not_count(engine: AsyncEngine, world: World) -> None:
    handlers = Planner(world.rules, world.registry).worker_handlers()
    async with running_worker(engine, handlers) as gone:
        pass
    await acompose_from_goal("research pg", engine=engine, decomposer=world.rules,
                             handlers=world.registry, timeout=20)
    live = [w for w in await engine.list_workers() if w.stopped_at is None]
    assert len(live) == 1 and live[0].worker_id != gone.worker_id


def test_compose_from_task_graph_sync(dsn: str, world: World) -> None:
    graph = TaskGraph.parse({"goal": "two leaves", "tasks": [
        {"id": "a", "handler": "leaf", "params": {"value": 1}},
        {"id": "b", "handler": "wrap", "params": {"value": "$a", "label": "got"}}]})
    with htdag.connect(dsn) as engine:
        result = compose_from_task_graph(graph, engine=engine, handlers=world.registry,
                                         timeout=20)
        assert result.output == {"got": 1}
        assert result.decomposer == "given" and result.graph is graph
        assert result.timings["decompose_ms"] == 0


def test_compose_multiple_workflows_with_twenty_goals(dsn: str, world: World) -> None:
    goals = [f"research topic{i}" for i in range(10)] + [
        f"compare a{i} with b{i}" for i in range(10)]
    with htdag.connect(dsn) as engine:
        started = time.perf_counter()
        results = compose_multiple_workflows(goals, engine=engine, decomposer=world.rules,
                                             handlers=world.registry, timeout=60)
        elapsed = time.perf_counter() - started
        assert len(results) == 20
        assert [r.graph.goal for r in results] == goals  # in the order of the goals
        for i, result in enumerate(results[:10]):
            assert result.status is RunStatus.COMPLETED
            assert result.output == report(f"topic{i}")
        for i, result in enumerate(results[10:]):
            assert result.status is RunStatus.COMPLETED
            assert result.output == {"compared": [f"a{i}", f"b{i}"], "sources": 6}
        assert len({r.run_id for r in results}) == 20
        runs = engine.list_runs(limit=1000)
        assert len(runs) == 40  # 20 roots, 20 children of the comparisons
        assert all(r.status is RunStatus.COMPLETED for r in runs)
    assert elapsed < 30


def test_compose_multiple_workflows_starts_one_worker(dsn: str, world: World) -> None:
    with htdag.connect(dsn) as engine:
        compose_multiple_workflows([f"research t{i}" for i in range(5)], engine=engine,
                                   decomposer=world.rules, handlers=world.registry,
                                   timeout=60)
        assert len(engine.list_workers()) == 1


async def test_subgoals_are_planned_by_the_decomposer_given(engine: AsyncEngine,
                                                            world: World) -> None:
    own = RuleDecomposer([
        Rule("outer", {"tasks": [{"id": "sub", "kind": "goal", "description": "inner {x}",
                                  "options": {"max_attempts": 1}}]},
             pattern=r"^outer (?P<x>\w+)$"),
        Rule("inner", {"tasks": [{"id": "v", "handler": "leaf", "params": {"value": "{x}"}}]},
             pattern=r"^inner (?P<x>\w+)$")])
    result = await acompose_from_goal("outer x", engine=engine, decomposer=own,
                                      handlers=world.registry, timeout=20)
    assert result.output == "x"


async def test_another_function_under_a_served_name_is_refused_clearly(
        engine: AsyncEngine) -> None:
    from htdag.handlers import HandlerRegistrationError

    first, second = HandlerRegistry(), HandlerRegistry()
    first.register(lambda: "first", "which")
    second.register(lambda: "second", "which")
    graph = {"tasks": [{"id": "w", "handler": "which"}]}
    one = await acompose_from_task_graph(graph, engine=engine, handlers=first, timeout=20)
    assert one.output == "first"
    with pytest.raises(HandlerRegistrationError, match="'which' is already served"):
        await acompose_from_task_graph(graph, engine=engine, handlers=second, timeout=20)
    # the same functions in another registry object are fine
    again = await acompose_from_task_graph(graph, engine=engine, handlers=first.merged(None),
                                           timeout=20)
    assert again.output == "first"
