"""Plan cache benchmark: how often the cache serves a paraphrase, how rarely it
serves a wrong plan, how fast a lookup is, and how many planner calls it saves.

    .venv/bin/python benchmarks/plan_cache.py              # fresh embedded server
    .venv/bin/python benchmarks/plan_cache.py --url URL    # another server

``run_all.py`` calls :func:`bench` with its server. The goals are
``benchmarks/data/plan_cache_goals.json``: groups (a goal, its plan over the
catalogue listed there, 4 paraphrases that need the same plan, possibly with
other values, and 4 look-alikes that need another plan). Figures (``name value
unit`` on stdout, misses and wrong hits on stderr):

* ``cache_hit_rate_paraphrases``: the cache primed with each group's goal, the
  share of paraphrases served their group's plan with their own values.
* ``cache_false_hit_rate``: over every look-alike and every paraphrase, the
  share served a wrong plan: a look-alike served anything, a paraphrase served
  another group's plan, or a plan that does not carry the paraphrase's values
  (or still carries the cached goal's).
* ``cache_lookup_p50_ms`` / ``_p95_ms``: lookups of the paraphrases and
  look-alikes (hits and misses) with ``SYNTHETIC`` more entries in the cache
  (goals made from the groups' words and random values and topics).
* ``cache_index_mb``: memory allocated (tracemalloc) by a fresh process-side
  index loading those entries.
* ``cache_put_evicting_p50_ms``: a put into that cache at its size limit
  (``max_entries``), each put evicting the least recently used entry.
* ``llm_calls_saved_ratio``: a workload of each group's goal followed, later, by
  its repeat (every other group) or a paraphrase: half the goals repeat or
  paraphrase earlier ones; at most 0.5,
  through ``CachedDecomposer`` over a counting fake planner; each plan's run is
  taken to complete (``put``). Saved = 1 - planner calls / goals.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import htdag
from htdag.decomposers import AsyncPlanCache, CachedDecomposer, Decomposer
from htdag.decomposers._goal import parse_goal
from htdag.graph import TaskGraph

DATA = Path(__file__).resolve().parent / "data" / "plan_cache_goals.json"
SYNTHETIC = 10_000
SEED = 20261205
TOPICS = ("billing onboarding search checkout login analytics pricing inventory shipping "
          "refunds payroll hiring security compliance marketing support mobile desktop "
          "kubernetes postgres redis kafka terraform grafana docs design roadmap budget "
          "forecast churn retention growth partners legal tax audit vendors travel").split()
Figure = Callable[[str, float | int, str], None]


def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text())
    return data


class CountingPlanner(Decomposer):
    """A fake planner (an LLM's stand-in): answers each goal's group plan, counts calls."""

    name = "counting"

    def __init__(self, plans: dict[str, dict[str, Any]]) -> None:
        self.plans = plans
        self.calls = 0

    async def decompose(self, goal: str, context: dict[str, Any]) -> TaskGraph:
        self.calls += 1
        return TaskGraph.parse({**self.plans[goal], "goal": goal})


def _mentions(graph: TaskGraph, text: str, number: float | None) -> bool:
    dumped = json.dumps([t.params for t in graph.tasks])
    if text in dumped or text.lstrip("#@") in dumped or text.lower() in dumped.lower():
        return True
    return number is not None and (f"{number:g}" in dumped or str(int(number)) in dumped)


def wrong_values(hit_graph: TaskGraph, goal: str, cached_goal: str) -> bool:
    """Whether a served plan lacks one of the goal's values that the cached goal
    does not share, or keeps one of the cached goal's values the goal changed."""
    new, old = parse_goal(goal).values, parse_goal(cached_goal).values
    for value in new:
        if any(value.same(o) for o in old):
            continue
        if not _mentions(hit_graph, value.text, value.number()):
            return True
    for value in old:
        if any(value.same(n) or value.text in n.text for n in new):
            continue
        if _mentions(hit_graph, value.text, None):
            return True
    return False


async def quality(cache: AsyncPlanCache, data: dict[str, Any], note: Callable[..., None]
                  ) -> tuple[float, float, list[float]]:
    catalogue = data["catalogue"]
    owner: dict[int, str] = {}
    for group in data["groups"]:
        owner[await cache.put(group["goal"], group["plan"], catalogue)] = group["name"]
    hits = wrong = looked = 0
    latencies: list[float] = []
    for group in data["groups"]:
        for kind in ("paraphrases", "lookalikes"):
            for goal in group[kind]:
                started = time.perf_counter()
                hit = await cache.lookup(goal, catalogue)
                latencies.append((time.perf_counter() - started) * 1000)
                looked += 1
                if hit is None:
                    if kind == "paraphrases":
                        note(f"  miss: {group['name']}: {goal!r}")
                    continue
                right = kind == "paraphrases" and owner.get(hit.entry_id) == group["name"] \
                    and not wrong_values(hit.graph, goal, hit.goal)
                if right:
                    hits += 1
                else:
                    wrong += 1
                    note(f"  WRONG HIT ({kind}): {goal!r} -> {hit.goal!r} ({hit.score:.2f})")
    paraphrases = sum(len(g["paraphrases"]) for g in data["groups"])
    return hits / paraphrases, wrong / looked, latencies


def synthetic_goals(data: dict[str, Any], count: int) -> list[tuple[str, dict[str, Any]]]:
    """Goals like the groups', with other values and an extra topic word: other
    templates and signatures, as a real cache's entries would have."""
    rng = random.Random(SEED)
    made = []
    groups = data["groups"]
    for i in range(count):
        group = groups[i % len(groups)]
        topic = " ".join(rng.sample(TOPICS, 2))
        goal = f"{group['goal']} about {topic} ({i})"
        made.append((goal, group["plan"]))
    return made


async def fill(cache: AsyncPlanCache, goals: list[tuple[str, dict[str, Any]]],
               catalogue: list[str]) -> None:
    for start in range(0, len(goals), 500):
        await cache.put_many(goals[start:start + 500], catalogue)


async def index_memory(engine: htdag.AsyncEngine) -> tuple[float, int]:
    """What a fresh index allocates to load the table (the modules it imports,
    numpy and scikit-learn, are loaded first and not counted)."""
    import sklearn.feature_extraction.text  # noqa: F401

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    fresh = AsyncPlanCache(engine)
    await fresh.refresh()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / 2**20, len(fresh.index)


async def evicting_puts(engine: htdag.AsyncEngine, data: dict[str, Any], entries: int
                        ) -> float:
    """The median time of a put into a cache at its limit (each evicts one)."""
    cache = AsyncPlanCache(engine, max_entries=entries)
    group = data["groups"][0]
    times = []
    for i in range(50):
        started = time.perf_counter()
        await cache.put(f"{group['goal']} for the evictions ({i})", group["plan"],
                        data["catalogue"])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def saved_ratio(engine: htdag.AsyncEngine, data: dict[str, Any]) -> tuple[float, int]:
    """Half the goals are new (each group's goal), half repeat one seen before:
    its goal again (every other group) or a paraphrase, in a shuffled order."""
    rng = random.Random(SEED)
    catalogue = data["catalogue"]
    plans = {}
    firsts: list[str] = []
    seconds: list[str] = []
    for i, group in enumerate(data["groups"]):
        plans[group["goal"]] = group["plan"]
        firsts.append(group["goal"])
        again = group["goal"] if i % 2 else group["paraphrases"][i // 2 % 4]
        plans[again] = group["plan"]
        seconds.append(again)
    workload: list[str] = []
    pending = list(zip(firsts, seconds, strict=True))
    rng.shuffle(pending)
    queue: list[str] = []
    for first, second in pending:
        workload.append(first)
        queue.append(second)
        if rng.random() < 0.5 and queue:
            workload.append(queue.pop(0))
    workload.extend(queue)
    planner = CountingPlanner(plans)
    cache = AsyncPlanCache(engine)
    decomposer = CachedDecomposer(planner, cache)
    for goal in workload:
        graph = await decomposer.decompose(goal, {"catalogue": catalogue})
        await cache.put(goal, graph, catalogue)  # its run completed
    return 1 - planner.calls / len(workload), len(workload)


async def measure(url: str, saved_url: str, figure: Figure, note: Callable[..., None]
                  ) -> None:
    data = load()
    engine = await htdag.aconnect(saved_url)
    try:
        ratio, goals = await saved_ratio(engine, data)
    finally:
        await engine.close()
    engine = await htdag.aconnect(url)
    try:
        # A limit above the entries here: each lookup below sees all of them.
        cache = AsyncPlanCache(engine, max_entries=2 * SYNTHETIC)
        hit_rate, false_rate, _ = await quality(cache, data, note)
        started = time.perf_counter()
        await fill(cache, synthetic_goals(data, SYNTHETIC), data["catalogue"])
        note(f"plan cache: {SYNTHETIC} synthetic entries put in "
             f"{time.perf_counter() - started:.1f}s")
        latencies = []
        for _ in range(3):
            latencies.extend((await quality(cache, data, lambda *a: None))[2])
        mb, indexed = await index_memory(engine)
        put_ms = await evicting_puts(engine, data, indexed)
        note(f"plan cache: {len(latencies)} lookups timed, {indexed} entries indexed, "
             f"{goals} goals in the saved-calls workload")
    finally:
        await engine.close()
    figure("cache_hit_rate_paraphrases", hit_rate, "ratio")
    figure("cache_false_hit_rate", false_rate, "ratio")
    figure("cache_lookup_p50_ms", statistics.median(latencies), "ms")
    figure("cache_lookup_p95_ms", statistics.quantiles(latencies, n=20)[18], "ms")
    figure("cache_index_mb", mb, "MB")
    figure("cache_put_evicting_p50_ms", put_ms, "ms")
    figure("llm_calls_saved_ratio", ratio, "ratio")


def bench(admin_url: str, figure: Figure | None = None,
          note: Callable[..., None] | None = None) -> None:
    """Runs the benchmark in a database of its own on the server of ``admin_url``."""
    import run_all

    figure = figure or run_all.figure
    note = note or run_all.note
    names = [f"htdag_bench_{os.getpid()}_plan_cache", f"htdag_bench_{os.getpid()}_plan_saved"]
    for name in names:
        run_all.create_database(admin_url, name)
    try:
        asyncio.run(measure(*(run_all.with_database(admin_url, n) for n in names),
                            figure, note))
    finally:
        for name in names:
            run_all.drop_database(admin_url, name)


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run_all

    return run_all.standalone(bench, __doc__)


if __name__ == "__main__":
    sys.exit(main())
