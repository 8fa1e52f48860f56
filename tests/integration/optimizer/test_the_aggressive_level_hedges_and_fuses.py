"""The aggressive level: handlers declared idempotent get hedge_after (the p95
of their successful durations, within the budget), others are never hedged;
with preserve_structure=False a chain of tasks predicted very short runs as one
fused task and the run's output stays the same."""

from __future__ import annotations

import random

from htdag import Planner, TaskGraph
from htdag.core.engine import AsyncEngine
from htdag.decomposers import RuleDecomposer
from htdag.handlers import HandlerRegistry
from htdag.optimizer import Optimizer
from htdag.optimizer.restructure import FUSED

from .._support import Db
from ._history import record_history


def registry() -> HandlerRegistry:
    reg = HandlerRegistry()

    @reg.handler("fetch")
    def fetch(n: int = 0) -> int:
        return n + 1

    @reg.handler("store")
    def store(n: int = 0) -> int:
        return n * 10

    return reg


def tailed(n: int) -> list[float]:
    """Mostly about 20 ms, 3 % ten times slower."""
    rng = random.Random(3)
    return [0.02 * rng.lognormvariate(0, 0.1) * (10 if rng.random() < 0.03 else 1)
            for _ in range(n)]


async def test_only_idempotent_handlers_are_hedged(engine: AsyncEngine, db: Db) -> None:
    await record_history(engine.store, db, "fetch", tailed(300))
    await record_history(engine.store, db, "store", tailed(300))
    graph = TaskGraph.parse({"goal": "fetch and store", "tasks": [
        {"id": "f", "handler": "fetch"}, {"id": "s", "handler": "store", "depends_on": ["f"]}]})

    optimization = await Optimizer(engine, level="aggressive",
                                   idempotent={"fetch"}).aoptimize(graph)

    hedges = {d.task: d for d in optimization.decisions if d.kind == "hedge"}
    assert hedges["f"].applied and 0.02 < optimization.options["f"]["hedge_after"] < 0.1
    assert not hedges["s"].applied and "not declared idempotent" in hedges["s"].reason
    assert "hedge_after" not in optimization.options.get("s", {})


async def test_a_chain_of_short_tasks_is_fused_with_the_same_output(
        engine: AsyncEngine, db: Db) -> None:
    await record_history(engine.store, db, "fetch", [0.001] * 60)
    await record_history(engine.store, db, "store", [0.001] * 60)
    graph = {"goal": "a short chain", "tasks": [
        {"id": "a", "handler": "fetch", "params": {"n": 1}},
        {"id": "b", "handler": "fetch", "params": {"n": "$a"}},
        {"id": "c", "handler": "store", "params": {"n": "$b"}}]}
    planner = Planner(RuleDecomposer([]), registry(), engine=engine)

    plain = await planner.acompose_graph(graph, timeout=30)
    fused = await planner.acompose_graph(
        graph, timeout=30, optimize=Optimizer(level="aggressive", preserve_structure=False))

    assert plain.output == fused.output == 30
    assert fused.optimization is not None
    [restructure] = [d for d in fused.optimization.decisions if d.kind == "restructure"]
    assert restructure.applied and restructure.value == [["a", "b", "c"]]
    handlers = await db.rows("select handler from htdag.tasks where run_id = %s",
                             (fused.run_id,))
    assert [h["handler"] for h in handlers] == [FUSED]
