"""compose(..., replan=k): a failed run is planned again (the decomposer is told
the failed graph, the error and the completed outputs), at most k times; tasks
that completed unchanged are carried into the new run, never run again; each
replan is recorded and emitted."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from htdag import Planner
from htdag.core.engine import AsyncEngine
from htdag.decomposers import Decomposer
from htdag.errors import InvalidInput, NonRetryableError, RunFailed
from htdag.graph import TaskGraph
from htdag.handlers import HandlerRegistry
from htdag.planning_store import PlanningStore

from .._support import Db


class Scripted(Decomposer):
    """Answers each call with the next plan; keeps the contexts it was given."""

    name = "scripted"

    def __init__(self, *plans: dict[str, Any]) -> None:
        self.plans = list(plans)
        self.contexts: list[dict[str, Any]] = []

    async def decompose(self, goal: str, context: dict[str, Any]) -> TaskGraph:
        self.contexts.append(context)
        plan = self.plans[min(len(self.contexts), len(self.plans)) - 1]
        return TaskGraph.model_validate({"goal": goal, **plan})


def tools(calls: Counter[str]) -> HandlerRegistry:
    reg = HandlerRegistry()

    @reg.handler("fetch")
    def fetch(url: str) -> str:
        calls["fetch"] += 1
        return f"page of {url}"

    @reg.handler("parse_strict")
    def parse_strict(text: str) -> str:
        calls["parse_strict"] += 1
        raise NonRetryableError(f"cannot parse {text!r} strictly")

    @reg.handler("parse_loose")
    def parse_loose(text: str) -> dict[str, Any]:
        calls["parse_loose"] += 1
        return {"words": len(text.split())}

    return reg


def plan(parser: str) -> dict[str, Any]:
    return {"tasks": [
        {"id": "fetch", "handler": "fetch", "params": {"url": "u"}},
        {"id": "parse", "handler": parser, "params": {"text": "$fetch"}}]}


async def test_a_failed_run_is_planned_again_and_completed_tasks_are_carried(
        engine: AsyncEngine, db: Db) -> None:
    calls: Counter[str] = Counter()
    decomposer = Scripted(plan("parse_strict"), plan("parse_loose"))
    planner = Planner(decomposer, tools(calls), engine=engine)

    result = await planner.acompose("read the page", replan=1, timeout=20)

    assert result.output == {"words": 3}
    assert calls == {"fetch": 1, "parse_strict": 1, "parse_loose": 1}  # fetch ran once
    told = decomposer.contexts[1]["replan"]
    assert told["attempt"] == 1 and "cannot parse 'page of u' strictly" in told["error"]
    assert told["completed_outputs"] == {"fetch": "page of u"}
    assert [t["handler"] for t in told["failed_graph"]["tasks"]] == ["fetch", "parse_strict"]
    [event] = await db.rows("select run_id, data from htdag.events"
                            " where kind = 'decomposition.replanned'")
    assert event["data"]["carried"] == ["fetch"] and event["data"]["attempt"] == 1
    runs = await db.rows("select run_id, status::text as status from htdag.runs"
                         " order by started_at")
    assert [r["status"] for r in runs] == ["failed", "completed"]
    assert event["run_id"] == runs[0]["run_id"]
    recorded = await PlanningStore.of(engine).list_decompositions(None, 10)
    assert sorted(str(d["run_id"]) for d in recorded) == sorted(str(r["run_id"]) for r in runs)


async def test_replanning_stops_after_k_attempts(engine: AsyncEngine, db: Db) -> None:
    calls: Counter[str] = Counter()
    planner = Planner(Scripted(plan("parse_strict")), tools(calls), engine=engine)

    with pytest.raises(RunFailed, match="cannot parse"):
        await planner.acompose("read the page", replan=2, timeout=20)

    assert calls == {"fetch": 1, "parse_strict": 3}  # three runs, one fetch
    assert await db.value("select count(*) from htdag.events"
                          " where kind = 'decomposition.replanned'") == 2


async def test_without_replan_a_failure_is_raised_at_once(engine: AsyncEngine) -> None:
    calls: Counter[str] = Counter()
    decomposer = Scripted(plan("parse_strict"), plan("parse_loose"))
    planner = Planner(decomposer, tools(calls), engine=engine)

    with pytest.raises(RunFailed):
        await planner.acompose("read the page", timeout=20)

    assert len(decomposer.contexts) == 1


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
async def test_replan_must_be_a_count(engine: AsyncEngine, bad: Any) -> None:
    planner = Planner(Scripted(plan("parse_loose")), tools(Counter()), engine=engine)

    with pytest.raises(InvalidInput, match="replan must be"):
        await planner.acompose("read the page", replan=bad)


async def test_replan_needs_a_waiting_call(engine: AsyncEngine) -> None:
    planner = Planner(Scripted(plan("parse_loose")), tools(Counter()), engine=engine)

    with pytest.raises(InvalidInput, match="replan needs wait=True"):
        await planner.acompose("read the page", replan=1, wait=False)
