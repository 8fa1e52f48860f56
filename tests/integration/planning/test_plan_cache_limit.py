"""The plan cache's events and size limit in PostgreSQL: every lookup emits
cache.hit or cache.miss, a put over ``max_entries`` evicts the least useful
entries (no longer served first, then the least recently used), each eviction
emits cache.evicted, and no process serves an evicted entry again."""

from __future__ import annotations

from typing import Any

import pytest

import htdag
from htdag.core.engine import AsyncEngine
from htdag.core.errors import InvalidInput
from htdag.decomposers import PlanCache
from htdag.events import aget_recent_events, get_recent_events

from .._support import Db

GOAL = "Summarize the last 50 messages in #general"
CATALOGUE = ["slack.history", "llm.summarize"]
PLAN: dict[str, Any] = {"tasks": [
    {"id": "history", "handler": "slack.history", "params": {"channel": "#general", "limit": 50}},
    {"id": "summary", "handler": "llm.summarize", "params": {"text": "$history"}}]}


def leaf(value: str) -> dict[str, Any]:
    return {"tasks": [{"id": "v", "handler": "leaf", "params": {"value": value}}]}


async def cache_events(engine: AsyncEngine, kind: str) -> list[dict[str, Any]]:
    return [e.data for e in await aget_recent_events(engine, kinds=kind, limit=1000)]


def test_a_hit_is_an_event_with_its_entry_score_and_goal(sync_engine: htdag.Engine) -> None:
    cache = PlanCache(sync_engine)
    entry_id = cache.put(GOAL, PLAN)
    looked = "Recap the latest 20 messages in #random " + "please " * 40
    hit = cache.lookup(looked)
    assert hit is not None
    events = get_recent_events(sync_engine, kinds="cache")
    assert [(e.kind, e.run_id) for e in events] == [("cache.hit", None)]
    assert events[0].data == {"entry_id": entry_id, "score": hit.score, "exact": False,
                              "goal": looked[:200]}


async def test_a_miss_is_an_event_saying_why(engine: AsyncEngine) -> None:
    cache = PlanCache(engine)
    entry_id = await cache.put(GOAL, PLAN, CATALOGUE)
    assert await cache.lookup("Write a haiku about postgres", CATALOGUE) is None
    assert await cache.lookup(GOAL, ["slack.history"]) is None  # a handler is missing
    misses = await cache_events(engine, "cache.miss")
    assert misses == [
        {"goal": "Write a haiku about postgres", "reason": "no_match"},
        {"goal": GOAL, "reason": "catalogue", "entry_id": entry_id, "score": 1.0}]
    assert await cache_events(engine, "cache.hit") == []


async def test_the_limit_holds_after_many_puts(engine: AsyncEngine, db: Db) -> None:
    cache = PlanCache(engine, max_entries=20)
    for i in range(60):
        await cache.put(f"leaf {i}", leaf(str(i)))
        assert await db.value("select count(*) from htdag.plan_cache") <= 20
    stats = await cache.stats()
    assert stats["entries"] == 20 and stats["evictions"] == 40
    evicted = await cache_events(engine, "cache.evicted")
    assert [e["goal"] for e in evicted] == [f"leaf {i}" for i in range(40)]  # oldest first
    assert evicted[0]["state"] == "active" and evicted[0]["reason"] == "limit"


async def test_the_most_recently_hit_entry_survives(engine: AsyncEngine) -> None:
    cache = PlanCache(engine, max_entries=10)
    first = await cache.put("leaf 0", leaf("0"))
    second = await cache.put("leaf 1", leaf("1"))
    for i in range(2, 10):
        await cache.put(f"leaf {i}", leaf(str(i)))
    assert await cache.lookup("leaf 0") is not None
    for i in range(10, 15):
        await cache.put(f"leaf {i}", leaf(str(i)))
    hit = await cache.lookup("leaf 0")
    assert hit is not None and hit.entry_id == first
    assert await cache.aio.entry(second) is None  # put after it, never hit: gone


async def test_entries_no_longer_served_are_evicted_before_active_ones(engine: AsyncEngine
                                                                     ) -> None:
    cache = PlanCache(engine, max_entries=3)
    oldest = await cache.put("leaf b", leaf("b"))
    replaced = await cache.put("leaf a", leaf("a"))
    await cache.put("leaf a", leaf("a2"))  # replaces the plan before
    await cache.put("leaf c", leaf("c"))
    assert await cache.aio.entry(replaced) is None
    assert await cache.aio.entry(oldest) is not None
    [evicted] = await cache_events(engine, "cache.evicted")
    assert (evicted["entry_id"], evicted["state"]) == (replaced, "replaced")


async def test_a_plan_pending_over_a_day_goes_before_active_ones_and_a_fresh_one_last(
        engine: AsyncEngine, db: Db) -> None:
    cache = PlanCache(engine, max_entries=3)
    active = await cache.put("leaf a", leaf("a"))
    stale = await cache.aio.put_pending("leaf p", leaf("p"))
    fresh = await cache.aio.put_pending("leaf f", leaf("f"))
    await db.execute("update htdag.plan_cache set created_at = now() - interval '3 days'"
                     " where entry_id = %s", (active,))
    await db.execute("update htdag.plan_cache set created_at = now() - interval '2 days'"
                     " where entry_id = %s", (stale,))
    await cache.put("leaf c", leaf("c"))
    await cache.put("leaf d", leaf("d"))
    evicted = await cache_events(engine, "cache.evicted")
    assert [(e["entry_id"], e["state"]) for e in evicted] == [(stale, "pending"),
                                                               (active, "active")]
    assert await cache.aio.entry(fresh) is not None


async def test_an_evicted_entry_is_no_longer_served_by_another_engine_s_cache(
        engine: AsyncEngine, dsn: str) -> None:
    other = await AsyncEngine.connect(dsn, pool_size=2)
    try:
        reader = PlanCache(other)
        entry_id = await PlanCache(engine).put(GOAL, PLAN)
        assert await reader.lookup("Recap the latest 20 messages in #random") is not None
        assert entry_id in reader.aio.index
        writer = PlanCache(engine, max_entries=5)
        for i in range(5):
            await writer.put(f"leaf {i}", leaf(str(i)))
        await reader.aio.refresh()
        assert entry_id not in reader.aio.index  # dropped at its next refresh
        assert await reader.lookup("Recap the latest 20 messages in #random") is None
        assert await reader.lookup(GOAL) is None
    finally:
        await other.close()


async def test_a_put_many_over_the_limit_keeps_the_newest(engine: AsyncEngine, db: Db
                                                         ) -> None:
    cache = PlanCache(engine, max_entries=10)
    ids = await cache.aio.put_many([(f"leaf {i}", leaf(str(i))) for i in range(25)])
    kept = await db.rows("select entry_id from htdag.plan_cache order by entry_id")
    assert [r["entry_id"] for r in kept] == ids[-10:]
    assert (await cache.stats())["evictions"] == 15


async def test_a_cache_without_a_limit_never_evicts(engine: AsyncEngine) -> None:
    cache = PlanCache(engine, max_entries=None)
    for i in range(30):
        await cache.put(f"leaf {i}", leaf(str(i)))
    assert PlanCache(engine).aio.max_entries == 10_000  # the default
    stats = await cache.stats()
    assert (stats["entries"], stats["evictions"]) == (30, 0)


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "100"])
def test_max_entries_must_be_a_whole_number_of_at_least_one(engine: AsyncEngine,
                                                            bad: Any) -> None:
    with pytest.raises(InvalidInput, match="max_entries must be a whole number"):
        PlanCache(engine, max_entries=bad)


async def test_a_hit_of_an_entry_evicted_meanwhile_is_served_and_still_an_event(
        engine: AsyncEngine, db: Db) -> None:
    cache = PlanCache(engine)
    entry_id = await cache.put(GOAL, PLAN)
    hit = await cache.lookup(GOAL)
    assert hit is not None
    await db.execute("delete from htdag.plan_cache where entry_id = %s", (entry_id,))
    # As if the lookup had read the entry just before another process evicted it.
    await cache.aio.store.hit(entry_id, hit.graph.model_dump(mode="json"), 1.0, True, GOAL)
    assert len(await cache_events(engine, "cache.hit")) == 2
    assert await db.value("select count(*) from htdag.plan_cache_runs") == 0
