"""A planner with the LLM decomposer records, beside the graph, what the
decomposition cost: every attempt with its answer and errors, tokens, cost,
model time and the model; it emits decomposition.started, then
decomposition.completed or decomposition.failed with the same figures."""

from __future__ import annotations

import json

import pytest
from _openai_server import ScriptedOpenAIServer
from _plan_faults import GOAL, GOOD, catalogue, good_plan

from htdag import Planner
from htdag.core.engine import AsyncEngine
from htdag.decomposers import DecompositionFailed, LLMDecomposer
from htdag.planning_store import PlanningStore

from .._support import Db

EVENTS = ("select kind, run_id, data from htdag.events where kind like 'decomposition.%%'"
          " order by event_id")


def planner(server: ScriptedOpenAIServer, engine: AsyncEngine) -> Planner:
    return Planner(LLMDecomposer("openai/scripted", api_base=server.url), catalogue(),
                   engine=engine)


async def test_a_repaired_decomposition_is_recorded_with_its_attempts_and_figures(
        engine: AsyncEngine, db: Db) -> None:
    cycle = good_plan()
    cycle["tasks"][0]["depends_on"] = ["report"]
    with ScriptedOpenAIServer([json.dumps(cycle), GOOD]) as server:
        result = await planner(server, engine).acompose(GOAL, timeout=30)
    assert result.output["topic"] == "postgres" and result.decomposer == "llm"

    [row] = await PlanningStore.of(engine).list_decompositions(result.run_id)
    assert row["decomposer"] == "llm" and row["model"] == "openai/scripted"
    assert row["goal"] == GOAL and row["tasks"] == 3
    assert row["attempts"] == 2
    assert (row["prompt_tokens"], row["completion_tokens"]) == (240, 80)
    assert row["cost_usd"] is None  # litellm has no price for a local model
    assert row["model_ms"] > 0 and row["duration_ms"] >= row["model_ms"]
    first, second = row["attempt_log"]
    assert first["answer"] == json.dumps(cycle)
    assert first["errors"] == ["tasks depend on each other in a cycle: search -> report -> "
                               "summarize -> search; remove one of these dependencies"]
    assert (second["answer"], second["errors"]) == (GOOD, [])

    started, completed = await db.rows(EVENTS)
    assert started["kind"] == "decomposition.started"
    assert started["data"] == {"goal": GOAL, "decomposer": "llm"}
    assert completed["kind"] == "decomposition.completed"
    assert completed["run_id"] == result.run_id
    data = completed["data"]
    assert (data["attempts"], data["model"], data["prompt_tokens"]) == (2, "openai/scripted", 240)
    assert "cost_usd" not in data  # no price: no figure


async def test_a_failed_decomposition_emits_its_attempts_and_starts_no_run(
        engine: AsyncEngine, db: Db) -> None:
    with ScriptedOpenAIServer(["no plan, sorry"] * 3) as server:
        with pytest.raises(DecompositionFailed, match="in 3 attempts"):
            await planner(server, engine).acompose(GOAL, timeout=30)
    kinds = [(e["kind"], e["run_id"]) for e in await db.rows(EVENTS)]
    assert kinds == [("decomposition.started", None), ("decomposition.failed", None)]
    failed = (await db.rows(EVENTS))[1]["data"]
    assert failed["attempts"] == 3 and failed["model"] == "openai/scripted"
    assert failed["prompt_tokens"] == 360
    assert "the answer holds no JSON object" in failed["error"]
    assert await db.value("select count(*) from htdag.decompositions") == 0
    assert await engine.list_runs() == []


async def test_a_goal_with_sql_in_it_is_stored_verbatim(engine: AsyncEngine, db: Db) -> None:
    goal = "research x'); delete from htdag.runs; --\" and $search ${goal} %s"
    with ScriptedOpenAIServer([GOOD]) as server:
        result = await planner(server, engine).acompose(goal, timeout=30)
    assert await db.value("select goal from htdag.decompositions") == goal
    assert await db.value("select count(*) from htdag.runs where run_id = %s",
                          (result.run_id,)) == 1
    assert json.dumps(goal) in server.requests[0].last_user_message


async def test_a_subgoal_is_planned_knowing_its_depth(engine: AsyncEngine, db: Db) -> None:
    def subgoal(description: str) -> str:
        return json.dumps({"tasks": [{"id": "learn", "kind": "goal", "handler": "",
                                      "description": description, "params": {},
                                      "depends_on": [], "map_over": ""}], "output": "learn"})

    # The root (depth 0) may have a subgoal; its child (depth 1) may not, at max_depth 1.
    script = [subgoal("research postgres"), subgoal("dig deeper"), GOOD]
    with ScriptedOpenAIServer(script) as server:
        found = planner(server, engine).replace(max_depth=1)
        result = await found.acompose(GOAL, timeout=30)
    assert result.output["topic"] == "postgres"
    child_request = server.requests[1].last_user_message
    assert "down to depth" not in child_request and "the depth limit is reached" in child_request
    assert ("task 'learn' is a subgoal (kind 'goal'), which would be planned at depth 2, "
            "deeper than the limit of 1") in server.requests[2].last_user_message
    rows = await db.rows("select goal, attempts, parent_run_id from htdag.decompositions"
                         " order by decomposition_id")
    assert [(r["goal"], r["attempts"], r["parent_run_id"]) for r in rows] == [
        (GOAL, 1, None), ("research postgres", 2, result.run_id)]
