"""compose_graph(..., optimize=level) builds the graph with the options the
optimizer learned from recorded attempts: a learned timeout once there are
enough samples (the static one below), fail-fast errors and a retry budget,
critical-path priorities; every decision is recorded with the flow it produced
and announced as optimizer.applied."""

from __future__ import annotations

import random
from typing import Any

import pytest

from htdag import Planner
from htdag.core.engine import AsyncEngine
from htdag.decomposers import RuleDecomposer
from htdag.errors import RunFailed
from htdag.handlers import HandlerRegistry
from htdag.optimizer import Optimizer

from .._support import Db
from ._history import record_history


def registry() -> HandlerRegistry:
    reg = HandlerRegistry()

    @reg.handler("fetch")
    def fetch(n: int = 0) -> int:
        return n + 1

    @reg.handler("parse")
    def parse(n: int = 0) -> int:
        if n < 0:
            raise ValueError(f"bad input {n}")
        return n

    return reg


def planner(engine: AsyncEngine) -> Planner:
    return Planner(RuleDecomposer([]), registry(), engine=engine)


GRAPH = {"goal": "fetch then parse", "tasks": [
    {"id": "a", "handler": "fetch", "params": {"n": 1}, "options": {"timeout": 30.0}},
    {"id": "b", "handler": "parse", "params": {"n": "$a"}}]}


def lognormal(n: int, median: float = 0.02) -> list[float]:
    rng = random.Random(7)
    return [median * rng.lognormvariate(0, 0.3) for _ in range(n)]


async def step_options(db: Db, flow_hash: str) -> dict[str, dict[str, Any]]:
    rows = await db.rows("select step_name, timeout, max_attempts, priority, fail_fast,"
                         " retry_budget from htdag.steps where flow_hash = %s", (flow_hash,))
    return {r["step_name"]: r for r in rows}


async def test_a_learned_timeout_replaces_the_static_one_and_is_recorded(
        engine: AsyncEngine, db: Db) -> None:
    await record_history(engine.store, db, "fetch", lognormal(200))

    result = await planner(engine).acompose_graph(GRAPH, optimize="basic", timeout=30)

    assert result.output == 2
    flow_hash = await db.value("select flow_hash from htdag.runs where run_id = %s",
                               (result.run_id,))
    options = await step_options(db, flow_hash)
    learned = options["a"]["timeout"]
    assert 0.1 <= learned < 1.0  # 3 x p99 of ~0.02 s durations, at least the floor
    assert options["b"]["timeout"] is None  # parse has no history: no timeout
    decisions = await db.rows("select task, kind, applied, value, static, evidence, run_id"
                              " from htdag.optimizer_decisions where flow_hash = %s"
                              " order by decision_id", (flow_hash,))
    by_task = {(d["task"], d["kind"]): d for d in decisions}
    a, b = by_task[("a", "timeout")], by_task[("b", "timeout")]
    assert a["applied"] and a["value"] == pytest.approx(learned) and a["static"] == 30.0
    assert a["evidence"]["n"] == 200 and a["run_id"] == result.run_id
    assert not b["applied"]
    events = await db.rows("select data from htdag.events where kind = 'optimizer.applied'"
                           " and run_id = %s", (result.run_id,))
    assert [e["data"]["task"] for e in events] == ["a"]


async def test_below_the_minimum_samples_the_static_timeout_stays(
        engine: AsyncEngine, db: Db) -> None:
    await record_history(engine.store, db, "fetch", lognormal(49))

    result = await planner(engine).acompose_graph(GRAPH, optimize="basic", timeout=30)

    flow_hash = await db.value("select flow_hash from htdag.runs where run_id = %s",
                               (result.run_id,))
    assert (await step_options(db, flow_hash))["a"]["timeout"] == 30.0
    assert result.optimization is not None and result.optimization.applied() == []


async def test_an_error_that_failed_on_every_retry_fails_at_once(
        engine: AsyncEngine, db: Db) -> None:
    await record_history(engine.store, db, "parse", [0.01] * 5,
                         errors=[f"ValueError: bad input {-i}" for i in range(1, 6)], attempts=3)
    graph = {"goal": "parse a bad number",
             "tasks": [{"id": "p", "handler": "parse", "params": {"n": -4},
                        "options": {"base_delay": 0, "max_delay": 0}}]}

    with pytest.raises(RunFailed) as failed:
        await planner(engine).acompose_graph(graph, optimize="advanced", timeout=30)

    attempts = await db.rows("select attempt from htdag.attempts where run_id = %s",
                             (failed.value.run_id,))
    assert len(attempts) == 1  # static max_attempts 3: two retries saved
    assert "fail_fast" in str(failed.value)
    [retries] = await db.rows("select value from htdag.optimizer_decisions"
                              " where kind = 'retries' and run_id = %s", (failed.value.run_id,))
    assert retries["value"]["fail_fast"] == ["ValueError: bad input -#"]


async def test_options_given_by_hand_win_over_learned_ones(engine: AsyncEngine, db: Db) -> None:
    await record_history(engine.store, db, "fetch", lognormal(200))

    result = await planner(engine).acompose_graph(GRAPH, optimize="basic", timeout=30,
                                                  options={"a": {"timeout": 7.0}})

    flow_hash = await db.value("select flow_hash from htdag.runs where run_id = %s",
                               (result.run_id,))
    assert (await step_options(db, flow_hash))["a"]["timeout"] == 7.0


async def test_advanced_gives_the_longer_path_the_higher_priority(
        engine: AsyncEngine, db: Db) -> None:
    await record_history(engine.store, db, "fetch", lognormal(100, median=0.05))
    await record_history(engine.store, db, "parse", lognormal(100, median=0.01))
    graph = {"goal": "two branches", "tasks": [
        {"id": "long1", "handler": "fetch"}, {"id": "long2", "handler": "fetch",
                                              "depends_on": ["long1"]},
        {"id": "short", "handler": "parse"}]}

    optimization = await Optimizer(engine, level="advanced").aoptimize(
        __import__("htdag").TaskGraph.parse(graph))

    prio = {task: opts.get("priority") for task, opts in optimization.options.items()}
    assert prio["long1"] > prio["long2"] > prio["short"] >= 0


async def test_an_unknown_level_is_refused(engine: AsyncEngine) -> None:
    from htdag.errors import InvalidInput

    with pytest.raises(InvalidInput, match="basic, advanced, aggressive"):
        await planner(engine).acompose_graph(GRAPH, optimize="fastest")
