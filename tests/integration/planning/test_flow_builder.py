"""FlowBuilder: the same graph compiles to the same flow (stored once), whatever
its params; options override per task."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from htdag.composer import acompose_from_goal, acompose_from_task_graph
from htdag.core.engine import AsyncEngine
from htdag.flow_builder import MAP_ITEMS, SUBGOAL, build_flow
from htdag.graph import GraphCycleError, TaskGraph

from .._support import Db
from ._planning import World

GRAPH: dict[str, Any] = {
    "goal": "pipeline",
    "tasks": [
        {"id": "find", "handler": "search", "params": {"topic": "pg"}},
        {"id": "each", "handler": "summarize", "map_over": "$find", "params": {"topic": "pg"},
         "options": {"timeout": 30, "max_attempts": 2}},
        {"id": "sub", "kind": "goal", "description": "leaf x", "params": {"hint": 1}},
        {"id": "report", "handler": "combine", "params": {"topic": "pg", "parts": "$each"},
         "depends_on": ["sub"]},
    ],
    "output": "report",
}


def with_params(topic: str, limit: int) -> dict[str, Any]:
    graph = copy.deepcopy(GRAPH)
    for task in graph["tasks"]:
        if "topic" in task.get("params", {}):
            task["params"]["topic"] = topic
    graph["tasks"][0]["params"]["limit"] = limit
    return graph


def test_build_flow_compiles_structure_and_carries_params_in_the_input() -> None:
    flow, run_input = build_flow(TaskGraph.parse(GRAPH), name="g")
    steps = {s.name: s for s in flow.steps}
    assert set(steps) == {"find", "__each_items", "each", "sub", "report"}
    assert steps["__each_items"].handler == MAP_ITEMS
    assert list(steps["__each_items"].depends_on) == ["find"]
    assert (steps["each"].handler, steps["each"].map) == ("map:summarize", True)
    assert list(steps["each"].depends_on) == ["__each_items"]
    assert (steps["each"].options.timeout, steps["each"].options.max_attempts) == (30, 2)
    assert steps["sub"].handler == SUBGOAL
    assert sorted(steps["report"].depends_on) == ["each", "sub"]
    assert flow.output == "report"
    assert run_input["goal"] == "pipeline"
    params = run_input["params"]
    assert set(params) == {"find", "__each_items", "sub", "report"}
    assert params["find"] == {"topic": "pg"}
    assert params["report"] == {"topic": "pg", "parts": "$each"}
    assert params["sub"] == {"goal": "leaf x", "context": {"hint": 1}}
    items = params["__each_items"]
    assert (items["source"], items["params"], items["param"]) == ("$find", {"topic": "pg"},
                                                                  "item")


def test_the_same_structure_has_the_same_hash_whatever_the_params() -> None:
    one, input_one = build_flow(TaskGraph.parse(with_params("pg", 2)), name="g")
    two, input_two = build_flow(TaskGraph.parse(with_params("redis", 5)), name="g")
    assert one.hash == two.hash
    assert input_one != input_two
    # The order tasks are listed in does not matter either.
    reordered = copy.deepcopy(GRAPH)
    reordered["tasks"].reverse()
    assert build_flow(TaskGraph.parse(reordered), name="g")[0].hash == one.hash
    # Structure does: another dependency, option or handler is another flow.
    other = copy.deepcopy(GRAPH)
    other["tasks"][3]["depends_on"] = []
    assert build_flow(TaskGraph.parse(other), name="g")[0].hash != one.hash
    assert build_flow(TaskGraph.parse(GRAPH), name="g",
                      options={"find": {"priority": 5}})[0].hash != one.hash


def test_build_flow_checks_the_graph() -> None:
    cyclic = {"tasks": [{"id": "a", "handler": "h", "depends_on": ["b"]},
                        {"id": "b", "handler": "h", "params": {"x": "$a"}}]}
    with pytest.raises(GraphCycleError, match="a -> b -> a"):
        build_flow(TaskGraph.parse(cyclic))


def test_options_override_per_task() -> None:
    flow, _ = build_flow(TaskGraph.parse(GRAPH), name="g", options={
        "each": {"timeout": 5, "priority": 3}, "find": {"max_attempts": 7, "base_delay": 0.5}})
    steps = {s.name: s.options for s in flow.steps}
    # The override wins over the graph's options, and the graph's others stay.
    assert (steps["each"].timeout, steps["each"].priority, steps["each"].max_attempts) == (
        5, 3, 2)
    assert (steps["find"].max_attempts, steps["find"].base_delay) == (7, 0.5)
    assert steps["report"].max_attempts == 3  # the engine's default


async def test_runs_of_one_graph_with_other_params_share_one_stored_flow(
        engine: AsyncEngine, world: World, db: Db) -> None:
    first = await acompose_from_task_graph(with_params("pg", 2), engine=engine,
                                           handlers=world.registry, timeout=20)
    second = await acompose_from_task_graph(with_params("redis", 3), engine=engine,
                                            handlers=world.registry, timeout=20)
    assert first.output["sources"] == ["pg/0", "pg/1"]
    assert second.output["sources"] == ["redis/0", "redis/1", "redis/2"]
    # The subgoal ("leaf x") is a child run of each, with a flow of its own.
    flows = await db.rows("select f.flow_hash, f.name, count(r.run_id) as runs"
                          " from htdag.flows f left join htdag.runs r using (flow_hash)"
                          " where r.parent_run_id is null group by 1, 2")
    assert len(flows) == 1 and flows[0]["runs"] == 2
    assert (await db.run(first.run_id))["flow_hash"] == (await db.run(second.run_id))["flow_hash"]
    assert await db.value("select count(*) from htdag.steps where flow_hash = %s",
                          (flows[0]["flow_hash"],)) == 5


async def test_options_given_to_compose_reach_the_stored_steps_and_tasks(
        engine: AsyncEngine, world: World, db: Db) -> None:
    result = await acompose_from_task_graph(
        GRAPH, engine=engine, handlers=world.registry, timeout=20,
        options={"find": {"timeout": 9, "max_attempts": 4}, "report": {"priority": 7}})
    run = await db.run(result.run_id)
    steps = {r["step_name"]: r for r in await db.rows(
        "select * from htdag.steps where flow_hash = %s", (run["flow_hash"],))}
    assert (steps["find"]["timeout"], steps["find"]["max_attempts"]) == (9, 4)
    assert (steps["each"]["timeout"], steps["each"]["max_attempts"]) == (30, 2)
    assert steps["report"]["priority"] == 7
    tasks = {(t["step_name"], t["task_index"]): t for t in await db.tasks(result.run_id)}
    assert tasks[("find", 0)]["max_attempts"] == 4
    assert tasks[("report", 0)]["priority"] == 7
    # Other options, another flow.
    plain = await acompose_from_task_graph(GRAPH, engine=engine, handlers=world.registry,
                                           timeout=20)
    assert (await db.run(plain.run_id))["flow_hash"] != run["flow_hash"]


async def test_goals_planned_by_one_rule_share_one_stored_flow(
        engine: AsyncEngine, world: World, db: Db) -> None:
    for topic in ("postgres", "redis", "sqlite"):
        await acompose_from_goal(f"research {topic}", engine=engine, decomposer=world.rules,
                                 handlers=world.registry, timeout=20)
    assert await db.value("select count(*) from htdag.flows") == 1
