"""Every decomposition is recorded (goal, decomposer, graph, run): it emits
decomposition.started, then decomposition.completed or decomposition.failed."""

from __future__ import annotations

import pytest

from htdag.composer import acompose_from_goal, acompose_from_task_graph
from htdag.core.engine import AsyncEngine
from htdag.decomposers import NoDecomposition, Rule, RuleDecomposer
from htdag.errors import RunFailed
from htdag.graph import UnknownHandlerInGraph

from .._support import Db
from ._planning import World

EVENTS = ("select kind, run_id, root_run_id, data from htdag.events"
          " where kind like 'decomposition.%%' or kind like 'subgoal.%%' order by event_id")


async def test_a_decomposition_is_recorded_with_its_run_and_an_event(
        engine: AsyncEngine, world: World, db: Db) -> None:
    result = await acompose_from_goal("research postgres", engine=engine,
                                      decomposer=world.rules, handlers=world.registry,
                                      timeout=20)
    row = await db.row("select * from htdag.decompositions")
    assert row["goal"] == "research postgres"
    assert row["decomposer"] == "rules"
    assert row["run_id"] == result.run_id
    assert row["parent_run_id"] is None
    assert row["tasks"] == 3
    assert row["graph"] == result.graph.model_dump(mode="json")
    assert [t["id"] for t in row["graph"]["tasks"]] == ["search", "summarize", "report"]
    assert row["duration_ms"] >= 0

    [started, event] = await db.rows(EVENTS)
    assert started["kind"] == "decomposition.started"
    assert started["run_id"] is None  # no run yet
    assert started["data"] == {"goal": "research postgres", "decomposer": "rules"}
    assert event["kind"] == "decomposition.completed"
    assert event["run_id"] == event["root_run_id"] == result.run_id
    assert event["data"]["decomposition_id"] == row["decomposition_id"]
    assert event["data"]["goal"] == "research postgres"
    assert event["data"]["decomposer"] == "rules"
    assert event["data"]["tasks"] == 3


async def test_a_given_graph_is_recorded_as_given(engine: AsyncEngine, world: World,
                                                  db: Db) -> None:
    graph = {"goal": "by hand", "tasks": [{"id": "a", "handler": "leaf",
                                           "params": {"value": 1}}]}
    result = await acompose_from_task_graph(graph, engine=engine, handlers=world.registry,
                                            timeout=20)
    row = await db.row("select goal, decomposer, run_id, tasks from htdag.decompositions")
    assert row == {"goal": "by hand", "decomposer": "given", "run_id": result.run_id,
                   "tasks": 1}


async def test_subgoal_decompositions_are_recorded_under_their_parent(
        engine: AsyncEngine, world: World, db: Db) -> None:
    result = await acompose_from_goal("compare pg with redis", engine=engine,
                                      decomposer=world.rules, handlers=world.registry,
                                      timeout=20)
    rows = await db.rows("select goal, decomposer, run_id, parent_run_id, tasks"
                         " from htdag.decompositions order by goal")
    children = {r.run_id: r for r in await engine.list_runs(parent_run_id=result.run_id)}
    assert len(children) == 2
    assert [(r["goal"], r["parent_run_id"], r["tasks"]) for r in rows] == [
        ("compare pg with redis", None, 3),
        ("research pg", result.run_id, 3),
        ("research redis", result.run_id, 3)]
    assert {rows[1]["run_id"], rows[2]["run_id"]} == set(children)

    events = await db.rows(EVENTS)
    kinds = [e["kind"] for e in events]
    assert kinds.count("decomposition.started") == kinds.count("decomposition.completed") == 3
    assert kinds.count("subgoal.submitted") == 2
    assert events[0]["kind"] == "decomposition.started" and events[0]["run_id"] is None
    for event in events[1:]:  # after the root's run started
        assert event["root_run_id"] == result.run_id  # one tree: one stream
    submitted = [e for e in events if e["kind"] == "subgoal.submitted"]
    assert {e["data"]["goal"] for e in submitted} == {"research pg", "research redis"}
    assert {e["data"]["step"] for e in submitted} == {"left", "right"}
    assert {e["data"]["child_run_id"] for e in submitted} == {str(c) for c in children}
    assert all(e["run_id"] == result.run_id for e in submitted)


async def test_no_matching_rule_emits_decomposition_failed(engine: AsyncEngine, world: World,
                                                           db: Db) -> None:
    with pytest.raises(NoDecomposition, match="no rule matches the goal 'bake a cake'"):
        await acompose_from_goal("bake a cake", engine=engine, decomposer=world.rules,
                                 handlers=world.registry)
    [started, event] = await db.rows(EVENTS)
    assert started["kind"] == "decomposition.started"
    assert event["kind"] == "decomposition.failed"
    assert event["run_id"] is None
    assert event["data"]["goal"] == "bake a cake"
    assert event["data"]["decomposer"] == "rules"
    assert "no rule matches" in event["data"]["error"]
    assert await db.value("select count(*) from htdag.decompositions") == 0
    assert await engine.list_runs() == []


async def test_an_invalid_plan_emits_decomposition_failed(engine: AsyncEngine, world: World,
                                                          db: Db) -> None:
    rules = RuleDecomposer([Rule("bad", {"tasks": [{"id": "x", "handler": "rm_rf"}]},
                                 keywords=("bad",))])
    with pytest.raises(UnknownHandlerInGraph):
        await acompose_from_goal("a bad plan", engine=engine, decomposer=rules,
                                 handlers=world.registry)
    with pytest.raises(NoDecomposition, match="the goal is empty"):
        await acompose_from_goal("   ", engine=engine, decomposer=rules,
                                 handlers=world.registry)
    events = await db.rows(EVENTS)
    assert [e["kind"] for e in events] == ["decomposition.started", "decomposition.failed"] * 2
    assert "calls handler 'rm_rf', which is not registered" in events[1]["data"]["error"]
    assert "the goal is empty" in events[3]["data"]["error"]


async def test_a_subgoal_that_cannot_be_planned_emits_decomposition_failed(
        engine: AsyncEngine, world: World, db: Db) -> None:
    with pytest.raises(RunFailed, match="no rule matches the goal 'bake a cake'"):
        await acompose_from_goal("retry bake a cake", engine=engine, decomposer=world.rules,
                                 handlers=world.registry, timeout=20)
    failed = [e for e in await db.rows(EVENTS) if e["kind"] == "decomposition.failed"]
    assert failed and failed[0]["data"]["goal"] == "bake a cake"
