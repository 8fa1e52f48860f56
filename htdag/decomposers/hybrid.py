"""The hybrid decomposer: several decomposers asked in order, the first plan
wins. The default chain is rules, then the plan cache, then the LLM: a goal a
rule knows costs nothing, a goal seen before costs a lookup, and only a new
goal costs a model call (whose plan the cache then keeps)."""

from __future__ import annotations

import os
import weakref
from typing import Any

from ..core.engine import AsyncEngine
from ..graph import TaskGraph
from ._record import ENGINE_KEY, record_in
from .base import Decomposer, NoDecomposition
from .cache import AsyncPlanCache, CachedDecomposer
from .rules import RuleDecomposer


class HybridDecomposer(Decomposer):
    """Asks ``decomposers`` in order; one that cannot plan the goal (it raises
    NoDecomposition) passes it to the next, any other error stops the chain.
    The decomposition record names the one that answered. Put the plan cache
    in the chain by wrapping what follows it:
    ``HybridDecomposer(rules, CachedDecomposer(llm, cache))``."""

    def __init__(self, *decomposers: Decomposer) -> None:
        if not decomposers:
            raise ValueError("HybridDecomposer needs at least one decomposer, in the order "
                             "to ask them (for example rules, then a CachedDecomposer)")
        self.decomposers = decomposers
        self.name = "hybrid(" + ",".join(d.name for d in decomposers) + ")"

    async def decompose(self, goal: str, context: dict[str, Any]) -> TaskGraph:
        record = record_in(context)
        declined: list[str] = []
        for decomposer in self.decomposers:
            try:
                graph = await decomposer.decompose(goal, context)
            except NoDecomposition as exc:
                declined.append(f"{decomposer.name}: {exc}")
                continue
            if record.decomposer is None:  # (an inner chain may have named itself)
                record.decomposer = decomposer.name
            return graph
        raise NoDecomposition(f"no decomposer could plan {goal[:80]!r}: " + "; ".join(declined)
                              + "; add a rule, or configure a model (HTDAG_LLM_MODEL)")


class EngineCachedDecomposer(Decomposer):
    """A CachedDecomposer over the plan cache of the engine the plan will run on
    (the planner passes it in the context), one cache per engine. ``inner``
    plans what the cache misses; without one, a miss passes the goal on (in a
    HybridDecomposer, to the next decomposer). Without an engine in the context
    (planning without running) it is ``inner`` alone."""

    def __init__(self, inner: Decomposer | None = None) -> None:
        self.inner = inner
        self._on_miss = inner or _Declines()
        self.name = "cache" if inner is None else f"cache+{inner.name}"
        self._by_engine: weakref.WeakKeyDictionary[AsyncEngine, CachedDecomposer] = (
            weakref.WeakKeyDictionary())

    async def decompose(self, goal: str, context: dict[str, Any]) -> TaskGraph:
        engine = context.get(ENGINE_KEY)
        if not isinstance(engine, AsyncEngine):
            return await self._on_miss.decompose(goal, context)
        cached = self._by_engine.get(engine)
        if cached is None:
            cached = self._by_engine[engine] = CachedDecomposer(self._on_miss,
                                                                AsyncPlanCache(engine))
        return await cached.decompose(goal, context)


class _Declines(Decomposer):
    name = "nothing"

    async def decompose(self, goal: str, context: dict[str, Any]) -> TaskGraph:
        raise NoDecomposition("the plan cache has no plan for this goal")


def default_decomposer(llm: Decomposer | None = None, *, rules: Decomposer | None = None,
                       cache: bool = True) -> HybridDecomposer:
    """``rules`` (default: the built-in RuleDecomposer), then the plan cache
    (``cache``), then ``llm``: by default an LLMDecomposer when HTDAG_LLM_MODEL
    names a model, else none (a goal no rule and no cached plan covers then
    raises NoDecomposition)."""
    if llm is None and os.environ.get("HTDAG_LLM_MODEL"):
        from .llm import LLMDecomposer  # litellm and langgraph load on first use only

        llm = LLMDecomposer()
    chain: list[Decomposer] = [rules or RuleDecomposer()]
    if cache:
        chain.append(EngineCachedDecomposer(llm))
    elif llm is not None:
        chain.append(llm)
    return HybridDecomposer(*chain)
