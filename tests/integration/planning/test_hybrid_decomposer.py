"""The hybrid chain: rules, then the plan cache, then the LLM. A goal a rule
knows costs nothing, a goal seen before costs no model call, and the record says
which one answered."""

from __future__ import annotations

from typing import Any

import pytest

from htdag import Planner
from htdag.core.engine import AsyncEngine
from htdag.decomposers import Decomposer, LLMDecomposer, NoDecomposition
from htdag.decomposers.hybrid import HybridDecomposer, default_decomposer
from htdag.graph import TaskGraph
from htdag.planning_store import PlanningStore

from ._planning import World

LEAF_PLAN = {"tasks": [{"id": "value", "handler": "leaf", "params": {"value": "hello"}}]}


class CountingModel(Decomposer):
    """Stands for an LLM decomposer: plans any goal, and counts its calls."""

    name = "model"

    def __init__(self) -> None:
        self.calls = 0

    async def decompose(self, goal: str, context: dict[str, Any]) -> TaskGraph:
        self.calls += 1
        return TaskGraph.model_validate({"goal": goal, **LEAF_PLAN})


async def test_a_rule_answers_first_and_the_record_names_it(
        engine: AsyncEngine, world: World) -> None:
    model = CountingModel()
    planner = Planner(HybridDecomposer(world.rules, model), world.registry, engine=engine)

    result = await planner.acompose("research postgres", timeout=20)

    assert result.decomposer == "rules" and model.calls == 0
    [recorded] = await PlanningStore.of(engine).list_decompositions(result.run_id, 1)
    assert recorded["decomposer"] == "rules"


async def test_a_goal_seen_before_costs_no_model_call(engine: AsyncEngine, world: World) -> None:
    model = CountingModel()
    planner = Planner(default_decomposer(model, rules=world.rules), world.registry,
                      engine=engine)

    first = await planner.acompose("say hello to the whole team", timeout=20)
    again = await planner.acompose("say hello to the whole team", timeout=20)

    assert (first.decomposer, again.decomposer) == ("model", "cache")
    assert model.calls == 1
    assert first.output == again.output == "hello"
    assert (await planner.acompose("research postgres", timeout=20)).decomposer == "rules"


async def test_a_goal_nobody_can_plan_says_who_declined(engine: AsyncEngine,
                                                       world: World) -> None:
    planner = Planner(default_decomposer(), world.registry, engine=engine)

    with pytest.raises(NoDecomposition) as raised:
        await planner.acompose("water the plants on the balcony", timeout=20)

    assert "rules:" in str(raised.value) and "cache:" in str(raised.value)
    assert "HTDAG_LLM_MODEL" in str(raised.value)


def test_the_default_chain_plans_with_the_model_the_environment_names(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTDAG_LLM_MODEL", "gpt-4o-mini")

    chain = default_decomposer()

    assert [d.name for d in chain.decomposers] == ["rules", "cache+llm"]
    inner = chain.decomposers[1].inner  # type: ignore[attr-defined]
    assert isinstance(inner, LLMDecomposer) and inner.model == "gpt-4o-mini"


def test_without_a_model_the_chain_is_rules_and_the_cache(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTDAG_LLM_MODEL", raising=False)

    chain = default_decomposer()

    assert [d.name for d in chain.decomposers] == ["rules", "cache"]
    assert [d.name for d in default_decomposer(cache=False).decomposers] == ["rules"]


def test_a_chain_needs_a_decomposer() -> None:
    with pytest.raises(ValueError, match="at least one decomposer"):
        HybridDecomposer()
