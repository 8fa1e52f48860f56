"""An agent running inside an htdag task hands its goals to htdag as subgoals:
child runs of the task's run, cancelled with the attempt that waits for them.
Both ways in: an agent graph run by langgraph_handler (its htdag_tool finds the
task in the graph's config), and a handler that builds an agent with
htdag_tool(ctx=ctx)."""

from __future__ import annotations

import json
from typing import Any

from htdag import Planner
from htdag.core.context import TaskContext
from htdag.core.engine import AsyncEngine
from htdag.flows import RunStatus
from htdag.integrations.langgraph import htdag_tool, langgraph_handler

from .._support import Db, eventually
from ..planning._planning import World
from ._agents import ScriptedChatModel, agent_graph, answer_with_tool_result, call_tool


async def test_an_agent_graph_runs_as_a_task_and_its_goal_as_a_child_run(
        engine: AsyncEngine, db: Db) -> None:
    world = World()
    model = ScriptedChatModel(script=[call_tool("htdag_subgoal", goal="research pg"),
                                      answer_with_tool_result])
    world.registry.register(langgraph_handler(
        agent_graph(model, [htdag_tool(timeout=30)]), name="researcher",
        input_key="messages", output_key="messages"))
    planner = Planner(world.rules, world.registry, engine=engine)
    result = await planner.acompose_graph({"goal": "ask the researcher", "tasks": [
        {"id": "agent", "handler": "researcher", "params": {"input": "Research pg"}}]},
        timeout=30)

    # The output is the agent's messages as dicts.
    messages: list[dict[str, Any]] = result.output
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[0]["content"] == "Research pg"
    assert messages[1]["tool_calls"][0]["args"] == {"goal": "research pg"}
    report = {"topic": "pg", "sources": ["pg/0", "pg/1", "pg/2"], "words": 6}
    assert json.loads(messages[2]["content"]) == report
    assert messages[3]["content"] == f"The result was: {messages[2]['content']}"

    # The goal ran as a child run of the agent's run, and the tool message names it.
    [child] = await engine.list_runs(parent_run_id=result.run_id)
    assert (child.status, child.output, child.depth) == (RunStatus.COMPLETED, report, 1)
    assert messages[2]["artifact"]["run_id"] == str(child.run_id)
    task = await db.task(result.run_id, "agent")
    assert (task["status"], task["attempts_count"]) == ("completed", 1)


async def test_a_handler_s_agent_submits_subgoals_through_its_context(
        engine: AsyncEngine, db: Db) -> None:
    world = World()

    @world.registry.handler("explorer", description="Explores a question with an agent.")
    async def explorer(question: str, ctx: TaskContext) -> dict[str, Any]:
        # Attempt 1 waits on a subgoal that hangs until the task's timeout; attempt 2
        # asks for one that works, and one that fails.
        goals = ["block first"] if ctx.attempt == 1 else [question, "fail on purpose"]
        model = ScriptedChatModel(script=[*(call_tool("htdag_subgoal", goal=g) for g in goals),
                                          answer_with_tool_result])
        state = await agent_graph(model, [htdag_tool(ctx=ctx)]).ainvoke(
            {"messages": [("user", question)]})
        return {"tools": [m.content for m in state["messages"] if m.type == "tool"],
                "answer": state["messages"][-1].content}

    planner = Planner(world.rules, world.registry, engine=engine)
    result = await planner.acompose_graph({"goal": "explore", "tasks": [
        {"id": "explore", "handler": "explorer", "params": {"question": "leaf found"},
         "options": {"timeout": 2, "max_attempts": 2, "base_delay": 0}}]}, timeout=30)

    children = await db.rows("select run_id, status::text as status, parent_run_id,"
                             " input->>'goal' as goal from htdag.runs"
                             " where parent_run_id is not null order by started_at")
    assert [(c["goal"], c["status"]) for c in children] == [
        ("block first", "cancelled"), ("leaf found", "completed"),
        ("fail on purpose", "failed")]
    assert {c["parent_run_id"] for c in children} == {result.run_id}
    # The first attempt's subgoal was cancelled with it: its handler was stopped.
    await eventually(lambda: world.calls["block_cancelled"] == 1)

    found, failed = result.output["tools"]
    assert found == '"found"'
    assert failed.startswith("htdag error: run ")
    assert f"(run id {children[2]['run_id']})" in failed
    assert "RuntimeError: on purpose failed (attempt 1)" in failed
    assert result.output["answer"] == f"The result was: {failed}"
    attempts = await db.attempts(result.run_id)
    assert [a["outcome"] for a in attempts] == ["timed_out", "completed"]
    submitted = await db.rows("select data from htdag.events where kind = 'subgoal.submitted'"
                              " and run_id = %s order by event_id", (result.run_id,))
    assert [e["data"]["child_run_id"] for e in submitted] == [str(c["run_id"])
                                                              for c in children]


async def test_a_sync_handler_s_agent_submits_subgoals_from_its_thread(
        engine: AsyncEngine) -> None:
    world = World()

    @world.registry.handler("sync_explorer", description="Explores, synchronously.")
    def sync_explorer(question: str, ctx: TaskContext) -> str:
        model = ScriptedChatModel(script=[call_tool("htdag_subgoal", goal=question),
                                          answer_with_tool_result])
        state = agent_graph(model, [htdag_tool(ctx=ctx, timeout=20)]).invoke(
            {"messages": [("user", question)]})
        return str(state["messages"][-1].content)

    planner = Planner(world.rules, world.registry, engine=engine)
    result = await planner.acompose_graph({"tasks": [
        {"id": "explore", "handler": "sync_explorer", "params": {"question": "leaf sync"}}]},
        timeout=30)
    assert result.output == 'The result was: "sync"'
    [child] = await engine.list_runs(parent_run_id=result.run_id)
    assert (child.status, child.output) == (RunStatus.COMPLETED, "sync")
