"""Task graphs run on the engine: references resolved against dependency
outputs, map-over, sync and async handlers; bad params and bad references fail
the task at once with a clear message; only registered handlers can be called."""

from __future__ import annotations

from typing import Any

import pytest

from htdag.composer import acompose_from_task_graph
from htdag.core.engine import AsyncEngine
from htdag.errors import RunFailed
from htdag.flow_builder import CARRIED, MAP_ITEMS, SUBGOAL
from htdag.graph import UnknownHandlerInGraph
from htdag.optimizer.restructure import FUSED

from .._support import Db, running_worker
from ._planning import World


async def test_references_map_over_and_sync_and_async_handlers(
        engine: AsyncEngine, world: World) -> None:
    graph = {
        "goal": "references",
        "tasks": [
            {"id": "find", "handler": "search", "params": {"topic": "pg", "limit": 4}},
            {"id": "each", "handler": "wrap", "map_over": "$find", "map_param": "value",
             "params": {"label": "$$literal"}},
            {"id": "first", "handler": "leaf", "params": {"value": "$find.0"}},
            {"id": "pack", "handler": "leaf", "params": {"value": {
                "first": "$first", "wrapped": "$each.3", "nested": [{"all": "$find"}, "$$x", 7],
                "text": "about $find"}}},
        ],
        "output": "pack",
    }
    result = await acompose_from_task_graph(graph, engine=engine, handlers=world.registry,
                                            timeout=20)
    assert result.output == {
        "first": "pg/0", "wrapped": {"$literal": "pg/3"},
        "nested": [{"all": ["pg/0", "pg/1", "pg/2", "pg/3"]}, "$x", 7], "text": "about $find"}
    assert world.calls["wrap"] == 4
    status = await engine.status(result.run_id)
    # The map task has its hidden items step in front; it fanned out to 4 tasks, in order.
    steps = {s.step_name: s for s in status.steps}
    assert set(steps) == {"find", "__each_items", "each", "first", "pack"}
    assert steps["each"].initial_tasks == 4
    assert steps["each"].output == [{"$literal": f"pg/{i}"} for i in range(4)]


async def test_without_an_output_the_leaves_are_the_result(engine: AsyncEngine,
                                                         world: World) -> None:
    graph = {"tasks": [{"id": "a", "handler": "leaf", "params": {"value": 1}},
                       {"id": "b", "handler": "leaf", "params": {"value": 2}}]}
    result = await acompose_from_task_graph(graph, engine=engine, handlers=world.registry,
                                            timeout=20)
    assert result.output == {"a": 1, "b": 2}


async def test_an_empty_map_completes_with_an_empty_list(engine: AsyncEngine,
                                                         world: World) -> None:
    graph = {"tasks": [
        {"id": "find", "handler": "search", "params": {"topic": "pg", "limit": 0}},
        {"id": "each", "handler": "summarize", "map_over": "$find", "params": {"topic": "pg"}},
        {"id": "report", "handler": "combine", "params": {"topic": "pg", "parts": "$each"}}]}
    result = await acompose_from_task_graph(graph, engine=engine, handlers=world.registry,
                                            timeout=20)
    assert result.output == {"topic": "pg", "sources": [], "words": 0}
    assert world.calls["summarize"] == 0


@pytest.mark.parametrize(("params", "message"), [
    ({"what": 5}, "handler 'fail_first' got bad params: what: Input should be a valid string"),
    ({}, "handler 'fail_first' got bad params: what: Field required"),
    ({"what": "x", "how": "y"},
     "handler 'fail_first' got bad params: how: Extra inputs are not permitted"),
])
async def test_bad_params_fail_the_task_at_once(engine: AsyncEngine, world: World, db: Db,
                                                params: dict[str, Any], message: str) -> None:
    graph = {"tasks": [{"id": "t", "handler": "fail_first", "params": params,
                        "options": {"max_attempts": 5, "base_delay": 0}}]}
    with pytest.raises(RunFailed) as info:
        await acompose_from_task_graph(graph, engine=engine, handlers=world.registry,
                                       timeout=20)
    assert info.value.step == "t"
    assert message in info.value.error
    assert "NonRetryableError" in info.value.error
    attempts = await db.attempts(info.value.run_id)
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "failed")]
    assert world.calls["fail_first"] == 0  # the handler itself never ran


async def test_bad_params_of_one_map_element_fail_it_at_once(engine: AsyncEngine,
                                                             world: World, db: Db) -> None:
    graph = {"tasks": [
        {"id": "values", "handler": "leaf", "params": {"value": ["a", "b", 3]}},
        {"id": "each", "handler": "wrap", "map_over": "$values", "map_param": "label",
         "params": {"value": 0}, "options": {"max_attempts": 5, "base_delay": 0}}]}
    with pytest.raises(RunFailed, match="label: Input should be a valid string") as info:
        await acompose_from_task_graph(graph, engine=engine, handlers=world.registry,
                                       timeout=20)
    assert (info.value.step, info.value.task_index) == ("each", 2)
    bad = [a for a in await db.attempts(info.value.run_id) if a["error"]]
    assert [(a["step_name"], a["attempt"]) for a in bad] == [("each", 1)]


async def test_a_missing_field_fails_the_task_at_once_naming_it(
        engine: AsyncEngine, world: World, db: Db) -> None:
    graph = {"tasks": [
        {"id": "a", "handler": "wrap", "params": {"value": 1, "label": "x"}},
        {"id": "b", "handler": "leaf", "params": {"value": "$a.y"},
         "options": {"max_attempts": 3, "base_delay": 0}}]}
    with pytest.raises(RunFailed) as info:
        await acompose_from_task_graph(graph, engine=engine, handlers=world.registry,
                                       timeout=20)
    assert "reference '$a.y': the output of 'a' has no 'y' (it is dict)" in info.value.error
    assert len(await db.attempts(info.value.run_id)) == 2  # a, and b once


async def test_map_over_something_not_a_list_fails_clearly(engine: AsyncEngine,
                                                          world: World) -> None:
    graph = {"tasks": [
        {"id": "a", "handler": "wrap", "params": {"value": 1, "label": "x"}},
        {"id": "b", "handler": "leaf", "map_over": "$a", "map_param": "value"}]}
    with pytest.raises(RunFailed, match="map_over '\\$a' gave dict, not a list") as info:
        await acompose_from_task_graph(graph, engine=engine, handlers=world.registry,
                                       timeout=20)
    assert info.value.step == "__b_items"


async def test_only_registered_handlers_can_be_called(engine: AsyncEngine, world: World) -> None:
    graph = {"tasks": [{"id": "t", "handler": "os.system", "params": {"command": "true"}}]}
    with pytest.raises(UnknownHandlerInGraph, match=r"task 't' calls handler 'os\.system'"):
        await acompose_from_task_graph(graph, engine=engine, handlers=world.registry)
    assert await engine.list_runs() == []  # nothing was started
    # What a planning worker can run: the registered handlers, their map forms, the
    # map-items step, the subgoal step, carried outputs and fused chains (which call
    # registered handlers only). Nothing else.
    handlers = world_planner(world).worker_handlers()
    names = set(world.registry.names())
    assert set(handlers) == names | {f"map:{n}" for n in names} | {MAP_ITEMS, SUBGOAL, CARRIED,
                                                                   FUSED}


async def test_a_planning_worker_refuses_tasks_of_handlers_it_does_not_have(
        engine: AsyncEngine, world: World, db: Db) -> None:
    from htdag import Flow

    flow = Flow("sneaky")
    flow.add_step("t", "os.system")  # a handler by name, registered nowhere
    handlers = world_planner(world).worker_handlers()
    async with running_worker(engine, handlers):
        run = await engine.start(flow, {})
        graph = {"tasks": [{"id": "ok", "handler": "leaf", "params": {"value": 1}}]}
        done = await acompose_from_task_graph(graph, engine=engine, handlers=world.registry,
                                              start_worker=False, timeout=20)
        assert done.output == 1
        task = await db.task(run.run_id, "t")
        assert task["status"] == "queued" and task["attempts_count"] == 0


def world_planner(world: World) -> Any:
    from htdag import Planner

    return Planner(world.rules, world.registry)
