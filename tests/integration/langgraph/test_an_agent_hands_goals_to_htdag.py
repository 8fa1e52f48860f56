"""An agent driven by a scripted chat model calls htdag_tool: the goal is planned
and run by a real worker, the agent gets its output and answers; a goal that
fails or cannot be planned gives the agent an error message naming the run,
and the agent goes on."""

from __future__ import annotations

import json
import uuid
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage

import htdag
from htdag import Planner
from htdag.core.engine import AsyncEngine
from htdag.integrations.langgraph import htdag_tool

from .._support import Db
from ..planning._planning import World
from ._agents import ScriptedChatModel, agent_graph, answer_with_tool_result, call_tool


def tool_messages(state: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


async def test_the_agent_gets_the_output_of_its_goal_and_answers(
        engine: AsyncEngine, db: Db) -> None:
    world = World()
    tool = htdag_tool(Planner(world.rules, world.registry, engine=engine), timeout=30)
    model = ScriptedChatModel(script=[call_tool("htdag_subgoal", goal="research pg"),
                                      answer_with_tool_result])
    state = await agent_graph(model, [tool]).ainvoke(
        {"messages": [("user", "Research PostgreSQL for me")]})

    assert model.bound_tools == ["htdag_subgoal"]
    [message] = tool_messages(state)
    expected = {"topic": "pg", "sources": ["pg/0", "pg/1", "pg/2"], "words": 6}
    assert message.status == "success"
    assert json.loads(str(message.content)) == expected
    run_id = uuid.UUID(message.artifact["run_id"])
    run = await db.run(run_id)
    assert (run["status"], run["output"]) == ("completed", expected)
    assert world.calls["search"] == 1 and world.calls["summarize"] == 3
    # The model saw the tool's result and answered with it.
    assert model.calls[1][-1] == message
    final = state["messages"][-1]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert final.content == f"The result was: {message.content}"


async def test_a_failed_goal_gives_the_agent_an_error_naming_the_run(
        engine: AsyncEngine, db: Db) -> None:
    world = World()
    tool = htdag_tool(Planner(world.rules, world.registry, engine=engine), timeout=30)
    model = ScriptedChatModel(script=[call_tool("htdag_subgoal", goal="fail the import"),
                                      call_tool("htdag_subgoal", goal="paint the moon"),
                                      answer_with_tool_result])
    state = await agent_graph(model, [tool]).ainvoke({"messages": [("user", "go")]})

    failed, unplanned = tool_messages(state)
    [run] = await db.rows("select run_id, status::text as status from htdag.runs")
    assert run["status"] == "failed"
    assert failed.status == "error"
    assert str(failed.content).startswith("htdag error: run ")
    assert f"run id {run['run_id']}" in str(failed.content)
    assert "RuntimeError: the import failed (attempt 1)" in str(failed.content)
    # Nothing could plan the second goal: no run, and the agent is told so.
    assert unplanned.status == "error"
    assert str(unplanned.content).startswith("htdag error: no run was started: NoDecomposition")
    # The agent went on and answered.
    assert state["messages"][-1].content == f"The result was: {unplanned.content}"


async def test_a_task_graph_given_as_json_runs_as_given(engine: AsyncEngine, db: Db) -> None:
    world = World()
    tool = htdag_tool(Planner(world.rules, world.registry, engine=engine), timeout=30)
    graph = {"goal": "wrap seven", "tasks": [
        {"id": "seven", "handler": "leaf", "params": {"value": 7}},
        {"id": "wrapped", "handler": "wrap", "params": {"value": "$seven", "label": "n"}}]}
    assert await tool.ainvoke({"graph": json.dumps(graph)}) == '{"n": 7}'
    assert await tool.ainvoke({"graph": graph}) == '{"n": 7}'
    assert world.calls["leaf"] == 2

    bad = {"goal": "x", "tasks": [{"id": "a", "handler": "no_such_handler"}]}
    told = await tool.ainvoke({"graph": bad})
    assert told.startswith("htdag error:") and "no_such_handler" in told
    assert "either `goal`" in await tool.ainvoke({"goal": "research pg", "graph": graph})
    assert await db.value("select count(*) from htdag.runs") == 2


def test_the_sync_tool_runs_a_goal_on_a_sync_engine(sync_engine: htdag.Engine) -> None:
    world = World()
    tool = htdag_tool(Planner(world.rules, world.registry, engine=sync_engine), timeout=30)
    assert tool.invoke({"goal": "leaf seven"}) == '"seven"'
    failed = tool.invoke({"goal": "fail again"})
    assert failed.startswith("htdag error: run ")
    assert "RuntimeError: again failed" in failed
