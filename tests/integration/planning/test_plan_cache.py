"""The plan cache in PostgreSQL: exact and similar goals are served their plan
(re-bound to their values), look-alikes and other catalogues miss, every
process sees every put, and CachedDecomposer learns the plans of runs that
complete, never of runs that fail."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import Field

import htdag
from htdag import Planner
from htdag.core.engine import AsyncEngine
from htdag.decomposers import CachedDecomposer, Decomposer, InvalidGoalError, PlanCache
from htdag.errors import RunFailed, UnknownHandlerInGraph
from htdag.graph import TaskGraph
from htdag.handlers import HandlerRegistry

from .._support import Db
from ._planning import World

GOAL = "Summarize the last 50 messages in #general"
CATALOGUE = ["slack.history", "llm.summarize", "slack.post"]
PLAN: dict[str, Any] = {"tasks": [
    {"id": "history", "handler": "slack.history", "params": {"channel": "#general", "limit": 50}},
    {"id": "summary", "handler": "llm.summarize", "params": {"text": "$history"}}]}


class Counting(Decomposer):
    """Counts the calls of the decomposer it wraps."""

    def __init__(self, inner: Decomposer) -> None:
        self.inner = inner
        self.calls = 0
        self.name = inner.name

    async def decompose(self, goal: str, context: dict[str, Any]) -> TaskGraph:
        self.calls += 1
        return await self.inner.decompose(goal, context)


def test_the_same_goal_is_served_its_plan_with_a_sync_engine(sync_engine: htdag.Engine
                                                             ) -> None:
    cache = PlanCache(sync_engine)
    entry_id = cache.put(GOAL, PLAN, CATALOGUE)
    hit = cache.lookup("summarize the last 50 messages in  #general.", CATALOGUE)
    assert hit is not None
    assert (hit.entry_id, hit.score, hit.exact, hit.goal) == (entry_id, 1.0, True, GOAL)
    assert hit.graph.model_dump(mode="json")["tasks"] == \
        TaskGraph.parse(PLAN).model_dump(mode="json")["tasks"]
    assert hit.graph.goal == "summarize the last 50 messages in  #general."
    assert cache.stats()["hits"] == 1


async def test_a_paraphrase_is_served_the_plan_rebound_to_its_values(engine: AsyncEngine
                                                                    ) -> None:
    cache = PlanCache(engine)
    entry_id = await cache.put(GOAL, PLAN, CATALOGUE)
    hit = await cache.lookup("Could you give me a recap of the latest 20 messages from #random?",
                             CATALOGUE)
    assert hit is not None
    assert hit.entry_id == entry_id and not hit.exact and 0.5 <= hit.score <= 1.0
    assert hit.graph.task("history").params == {"channel": "#random", "limit": 20}
    assert hit.graph.task("summary").params == {"text": "$history"}


@pytest.mark.parametrize("lookalike", [
    "Delete the last 50 messages in #general",
    "Summarize the last 50 emails in #general",
    "Summarize the last 50 messages in #general without posting them",
    "Summarize the last 50 messages in #general and post it to the team",
    "Summarize the last 50 messages in #general and #random",
])
async def test_a_lookalike_misses(engine: AsyncEngine, lookalike: str) -> None:
    cache = PlanCache(engine)
    await cache.put(GOAL, PLAN, CATALOGUE)
    assert await cache.lookup(lookalike, CATALOGUE) is None
    assert (await cache.stats())["misses"] == 1


async def test_a_catalogue_without_a_handler_of_the_plan_misses(engine: AsyncEngine) -> None:
    cache = PlanCache(engine)
    await cache.put(GOAL, PLAN, CATALOGUE)
    assert await cache.lookup(GOAL, ["slack.history", "slack.post"]) is None
    assert await cache.lookup(GOAL, CATALOGUE) is not None


def _registry(limit_is_text: bool) -> HandlerRegistry:
    reg = HandlerRegistry()
    if limit_is_text:
        @reg.handler("slack.history")
        def history_text(channel: str, limit: str) -> list[str]:
            return []
    else:
        @reg.handler("slack.history")
        def history(channel: str, limit: int) -> list[str]:
            return []

    @reg.handler("llm.summarize")
    def summarize(text: Any) -> str:
        return ""

    return reg


async def test_a_handler_whose_schema_changed_misses(engine: AsyncEngine) -> None:
    cache = PlanCache(engine)
    await cache.put(GOAL, PLAN, _registry(limit_is_text=False))
    assert await cache.lookup(GOAL, _registry(limit_is_text=False)) is not None
    assert await cache.lookup(GOAL, _registry(limit_is_text=True)) is None


async def test_a_put_through_one_engine_is_seen_through_another(engine: AsyncEngine,
                                                                dsn: str) -> None:
    other = await AsyncEngine.connect(dsn, pool_size=2)
    try:
        reader = PlanCache(other)
        assert await reader.lookup("Recap the latest 20 messages in #random") is None
        await PlanCache(engine).put(GOAL, PLAN)
        hit = await reader.lookup("Recap the latest 20 messages in #random")
        assert hit is not None and hit.graph.task("history").params["channel"] == "#random"
    finally:
        await other.close()


async def test_cached_decomposer_plans_a_repeated_goal_once(engine: AsyncEngine,
                                                            world: World) -> None:
    rules = Counting(world.rules)
    cache = PlanCache(engine)
    planner = Planner(CachedDecomposer(rules, cache), world.registry, engine=engine)
    first = await planner.acompose("research pg", timeout=20)
    again = await planner.acompose("research pg", timeout=20)
    assert rules.calls == 1
    assert again.output == first.output
    hit = await cache.lookup("research pg", world.registry)
    assert hit is not None
    entry = await cache.aio.entry(hit.entry_id)
    assert entry is not None
    assert (entry["state"], entry["source_run_id"]) == ("active", first.run_id)
    assert entry["successes"] == 2  # the first run, and the run of the hit


async def test_a_plan_is_served_only_after_its_run_completes(engine: AsyncEngine,
                                                             world: World) -> None:
    cache = PlanCache(engine)
    planner = Planner(CachedDecomposer(world.rules, cache), world.registry, engine=engine)
    started = await planner.acompose("block b1", wait=False)
    await world.event("b1").wait()
    assert await cache.lookup("block b1", world.registry) is None  # still running
    await engine.cancel(started.run_id)
    assert await cache.lookup("block b1", world.registry) is None  # cancelled: never


async def test_a_failed_run_s_plan_is_not_cached(engine: AsyncEngine, world: World,
                                                 db: Db) -> None:
    rules = Counting(world.rules)
    planner = Planner(CachedDecomposer(rules, PlanCache(engine)), world.registry,
                      engine=engine)
    for _ in range(2):
        with pytest.raises(RunFailed):
            await planner.acompose("fail boom", timeout=20)
    assert rules.calls == 2
    states = await db.rows("select state::text as state from htdag.plan_cache")
    assert states == [{"state": "rejected"}, {"state": "rejected"}]
    assert await PlanCache(engine).lookup("fail boom") is None


async def test_an_entry_whose_runs_fail_stops_being_served(engine: AsyncEngine,
                                                           world: World) -> None:
    cache = PlanCache(engine)
    plan = {"tasks": [{"id": "boom", "handler": "fail", "params": {"what": "x"},
                       "options": {"max_attempts": 1}}]}
    entry_id = await cache.put("fail x", plan, world.registry)
    rules = Counting(world.rules)
    planner = Planner(CachedDecomposer(rules, cache), world.registry, engine=engine)
    for _ in range(2):
        with pytest.raises(RunFailed):
            await planner.acompose("fail x", timeout=20)
    assert rules.calls == 0  # both served from the cache
    entry = await cache.aio.entry(entry_id)
    assert entry is not None and (entry["failures"], entry["state"]) == (2, "disabled")
    assert await cache.lookup("fail x", world.registry) is None


@pytest.mark.parametrize(("goal", "says"), [
    ("", "empty"), ("a\x00b", "NUL"), ("plan " * 30_000, "at most")])
async def test_bad_goals_raise_a_typed_error(engine: AsyncEngine, goal: str, says: str
                                             ) -> None:
    cache = PlanCache(engine)
    with pytest.raises(InvalidGoalError, match=says):
        await cache.lookup(goal)
    with pytest.raises(InvalidGoalError, match=says):
        await cache.put(goal, PLAN)


async def test_a_plan_calling_a_handler_outside_its_catalogue_is_refused(
        engine: AsyncEngine) -> None:
    with pytest.raises(UnknownHandlerInGraph, match=r"slack\.history"):
        await PlanCache(engine).put(GOAL, PLAN, ["llm.summarize"])


async def test_a_goal_with_context_of_the_caller_s_is_neither_served_nor_cached(
        engine: AsyncEngine, world: World) -> None:
    rules = Counting(world.rules)
    cache = PlanCache(engine)
    decomposer = CachedDecomposer(rules, cache)
    await cache.put("leaf a", {"tasks": [{"id": "v", "handler": "leaf",
                                          "params": {"value": "a"}}]})
    context = {"catalogue": world.registry, "customer": "acme"}
    await decomposer.decompose("leaf a", context)
    await decomposer.decompose("leaf b", context)
    assert rules.calls == 2
    assert (await cache.stats())["by_state"] == {"active": 1}
    assert context["decomposition"].decomposer == "rules"


def _bounded_registry() -> HandlerRegistry:
    reg = HandlerRegistry()

    @reg.handler("slack.history")
    def history(channel: str, limit: Annotated[int, Field(le=100)]) -> list[str]:
        return []

    @reg.handler("llm.summarize")
    def summarize(text: Any) -> str:
        return ""

    return reg


async def test_a_rebound_plan_whose_params_break_the_handler_s_schema_misses(
        engine: AsyncEngine) -> None:
    cache = PlanCache(engine)
    await cache.put(GOAL, PLAN, _bounded_registry())
    assert await cache.lookup("Summarize the last 20 messages in #ops", _bounded_registry())
    assert await cache.lookup("Summarize the last 500 messages in #ops",
                              _bounded_registry()) is None


async def test_a_cache_on_a_sync_engine_serves_a_decomposer_on_another_loop(
        sync_engine: htdag.Engine, world: World) -> None:
    rules = Counting(world.rules)
    cache = PlanCache(sync_engine)
    decomposer = CachedDecomposer(rules, cache)
    graph = await decomposer.decompose("leaf a", {"catalogue": world.registry})
    assert rules.calls == 1 and cache.stats()["by_state"] == {"pending": 1}
    cache.put("leaf a", graph, world.registry)  # as when its run completes
    assert await decomposer.decompose("leaf a", {"catalogue": world.registry}) == graph
    assert rules.calls == 1


async def test_a_goal_carrying_sql_is_stored_verbatim_as_data(engine: AsyncEngine) -> None:
    cache = PlanCache(engine)
    goal = "Summarize '); drop table htdag.plan_cache; --"
    entry_id = await cache.put(goal, PLAN)
    hit = await cache.lookup(goal)
    assert hit is not None and (hit.entry_id, hit.goal) == (entry_id, goal)
    entry = await cache.aio.entry(entry_id)
    assert entry is not None and entry["goal"] == goal
