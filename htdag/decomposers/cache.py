"""The plan cache: task graphs of goals seen before, in PostgreSQL, served
again for the same goal or a similar one, so a goal seen before costs no
planning.

``PlanCache(engine)``: ``put(goal, graph, catalogue=None)`` and
``lookup(goal, catalogue=None) -> CacheHit | None``, sync with a sync Engine,
awaitable with an AsyncEngine (``cache.aio`` is the async implementation).

A lookup tries the normalised goal first (an index of the table), then similar
goals: the goal's template (its words, canonical) and values (names, numbers,
quoted text, paths, channels, dates...; see _goal) against the entries with the
same signature, scored by TF-IDF similarity of the templates; a similar entry
is served only when its plan's parameters take the values that differ, which
are then re-bound (see _template). A plan is never served to a catalogue that
lacks one of its handlers or has changed its parameter schema, and every hit is
checked like any plan before it is returned.

Every lookup emits ``cache.hit`` or ``cache.miss``, and every entry evicted
``cache.evicted`` (events with no run). ``max_entries`` bounds the table: a put
that takes it over evicts the least useful entries (see
htdag.plan_cache_evict), and each process's index drops them at its next
refresh.

``CachedDecomposer(inner, cache)`` looks up first and plans with ``inner`` on a
miss; the plan it got is stored as pending, and becomes servable when the run
that executes it completes (a trigger on the runs, so whichever process runs
it); a failed run's plan is never served, and the failed runs of a hit count
against its entry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from pydantic import ValidationError

from ..core._portal import portal
from ..core.engine import AsyncEngine
from ..core.errors import HtdagError, InvalidInput
from ..core.sync import Engine
from ..graph import TaskGraph, iter_references
from ..handlers import HandlerRegistry
from ._goal import InvalidGoalError, ParsedGoal, Value, parse_goal
from ._record import PLANNER_KEYS, record_in
from ._template import (
    catalogue_fingerprint,
    handler_fingerprints,
    plan_handlers,
    rebind,
    serves,
)
from .base import Decomposer
from .cache_index import CacheIndex
from .cache_store import CacheStore, NewEntry

_log = logging.getLogger("htdag.cache")
T = TypeVar("T")
E = TypeVar("E", Engine, AsyncEngine)
Handlers = Mapping[str, str | None]
DEFAULT_MAX_ENTRIES = 10_000
GOAL_IN_EVENTS = 200  # characters of a goal an event carries


@dataclass(frozen=True)
class CacheHit:
    """A plan from the cache: ``graph`` re-bound to the goal looked up, its
    ``score`` (1.0 for the same normalised goal, else the templates'
    similarity), the ``entry_id`` and the cached ``goal``."""

    graph: TaskGraph
    score: float
    entry_id: int
    goal: str
    exact: bool


class AsyncPlanCache:
    """The plan cache on an async engine (see the module's doc). ``threshold``:
    the least similarity of templates for a similar hit; ``max_entries``: the
    most entries (of any state) the table keeps after a put of this cache,
    None for no limit."""

    def __init__(self, engine: AsyncEngine, *, threshold: float = 0.5,
                 max_entries: int | None = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries is not None and (isinstance(max_entries, bool)
                                        or not isinstance(max_entries, int) or max_entries < 1):
            raise InvalidInput(f"max_entries must be a whole number of at least 1 or None "
                               f"(no limit), got {max_entries!r}")
        self.engine = engine
        self.threshold = threshold
        self.max_entries = max_entries
        self.store = CacheStore(engine.db)
        self.index = CacheIndex()
        self.hits = 0
        self.misses = 0

    async def put(self, goal: str, graph: TaskGraph | Mapping[str, Any],
                  catalogue: Any = None) -> int:
        """Stores ``graph`` as the plan of ``goal`` (servable at once); returns the
        entry's id. ``catalogue``: the handlers it was planned over (a
        HandlerRegistry, catalogue entries, or handler names)."""
        return await self._put(goal, graph, catalogue, pending=False)

    async def put_pending(self, goal: str, graph: TaskGraph | Mapping[str, Any],
                          catalogue: Any = None) -> int:
        """Stores ``graph`` as the plan of ``goal``, servable once the run that
        executes it (recorded as a decomposition of that graph) completes."""
        return await self._put(goal, graph, catalogue, pending=True)

    async def put_many(self, plans: Iterable[tuple[str, TaskGraph | Mapping[str, Any]]],
                       catalogue: Any = None) -> list[int]:
        """Stores many (goal, graph) plans in one transaction (to warm a cache)."""
        known = handler_fingerprints(catalogue)
        entries = [_entry(goal, graph, known) for goal, graph in plans]
        ids = await self.store.put_many([e for e, _ in entries], self.max_entries)
        self.index.add_many([(i, p.signature, p.template)
                             for i, (_, p) in zip(ids, entries, strict=True)])
        return ids

    async def _put(self, goal: str, graph: TaskGraph | Mapping[str, Any], catalogue: Any,
                   pending: bool) -> int:
        entry, parsed = _entry(goal, graph, handler_fingerprints(catalogue))
        entry_id = await self.store.put(entry, pending, self.max_entries)
        if not pending:
            self.index.add_many([(entry_id, parsed.signature, parsed.template)])
        return entry_id

    async def lookup(self, goal: str, catalogue: Any = None) -> CacheHit | None:
        """The cached plan for ``goal``, re-bound to its values, or None. Emits
        cache.hit or cache.miss."""
        parsed = parse_goal(goal)
        known = handler_fingerprints(catalogue)
        await self.refresh()
        refused: list[dict[str, Any]] = []
        hit = None
        for row in await self.store.exact(parsed.key):
            hit = self._serve(row, parsed, known, catalogue, 1.0, True, refused)
            if hit is not None:
                break
        if hit is None:
            hit = await self._similar(parsed, known, catalogue, refused)
        if hit is None:
            self.misses += 1
            await self.store.miss({"goal": parsed.goal[:GOAL_IN_EVENTS],
                                   **(refused[0] if refused else {"reason": "no_match"})})
            return None
        self.hits += 1
        await self.store.hit(hit.entry_id, hit.graph.model_dump(mode="json"), hit.score,
                             hit.exact, parsed.goal[:GOAL_IN_EVENTS])
        return hit

    async def _similar(self, parsed: ParsedGoal, known: Handlers | None, catalogue: Any,
                       refused: list[dict[str, Any]]) -> CacheHit | None:
        scored = self.index.similar(parsed.signature, parsed.template, self.threshold, 5)
        if not scored:
            return None
        rows = {int(r["entry_id"]): r for r in await self.store.entries([i for i, _ in scored])}
        for entry_id, score in scored:
            row = rows.get(entry_id)
            if row is None:  # no longer active, never again (withdrawn or evicted): forget
                self.index.remove(entry_id)
                continue
            hit = self._serve(row, parsed, known, catalogue, score, False, refused)
            if hit is not None:
                return hit
        return None

    def _serve(self, row: Mapping[str, Any], parsed: ParsedGoal, known: Handlers | None,
               catalogue: Any, score: float, exact: bool, refused: list[dict[str, Any]]
               ) -> CacheHit | None:
        """The entry's plan for ``parsed`` as a hit if it may be served, else None
        with why appended to ``refused`` (see _plan), the entry and the score."""
        plan = _plan(row, parsed, known, catalogue, score)
        if isinstance(plan, str):
            refused.append({"reason": plan, "entry_id": int(row["entry_id"]), "score": score})
            return None
        return CacheHit(plan, score, int(row["entry_id"]), str(row["goal"]), exact)

    async def refresh(self) -> None:
        """Brings the index up to date with the table (entries put, activated or
        withdrawn by any process since the last refresh)."""
        boundary, changes = await self.store.changes(self.index.boundary)
        self.index.apply(changes)
        self.index.boundary = max(self.index.boundary, boundary)

    async def stats(self) -> dict[str, Any]:
        """This process's hits and misses, its hit rate, the table's entries by
        state (``entries``: the active ones) and ``evictions``: the entries
        evicted by any process since the cache was made."""
        by_state, evictions = await self.store.counts()
        looked = self.hits + self.misses
        return {"hits": self.hits, "misses": self.misses,
                "hit_rate": self.hits / looked if looked else 0.0,
                "entries": by_state.get("active", 0), "by_state": by_state,
                "evictions": evictions}

    async def entry(self, entry_id: int) -> dict[str, Any] | None:
        """An entry's row (state, hits, successes, failures, graph...), or None."""
        return await self.store.entry(entry_id)


def _plan(row: Mapping[str, Any], parsed: ParsedGoal, known: Handlers | None,
          catalogue: Any, score: float) -> TaskGraph | str:
    """An entry's plan re-bound for ``parsed`` if it may be served: ``score`` at
    least the entry's own threshold, the catalogue serves its handlers, its
    values re-bind, and the result is a valid graph. Else why not: min_score,
    catalogue, values, invalid_plan or params."""
    if score < float(row["min_score"]):
        return "min_score"
    if not serves(row["handlers"], known):
        return "catalogue"
    old = [Value(s["kind"], s["text"], s["role"]) for s in row["slots"]]
    graph = rebind(row["graph"], old, parsed.values)
    if graph is None:
        return "values"
    graph["goal"] = parsed.goal
    try:
        plan = TaskGraph.parse(graph).check(None if known is None else set(known))
    except HtdagError:
        return "invalid_plan"
    if isinstance(catalogue, HandlerRegistry) and not _params_valid(plan, catalogue):
        return "params"
    return plan


def _params_valid(plan: TaskGraph, registry: HandlerRegistry) -> bool:
    """Each task's params against its handler's schema, as far as they are known
    before the run: a param holding a reference is another task's output."""
    for task in plan.tasks:
        if task.kind != "task" or task.handler not in registry:
            continue
        deferred = {k for k, v in task.params.items() if any(True for _ in iter_references(v))}
        deferred |= {task.map_param, "task_description"} if task.map_over else \
            {"task_description"}
        probe = {k: v for k, v in task.params.items() if k not in deferred}
        try:
            registry.get(str(task.handler)).params_model.model_validate(probe)
        except ValidationError as exc:
            if any(e["type"] != "missing" or str(e["loc"][0]) not in deferred
                   for e in exc.errors(include_url=False) if e["loc"]):
                return False
    return True


def _entry(goal: str, graph: TaskGraph | Mapping[str, Any], known: Handlers | None
           ) -> tuple[NewEntry, ParsedGoal]:
    parsed = parse_goal(goal)
    plan = graph if isinstance(graph, TaskGraph) else TaskGraph.parse(graph)
    plan.check(None if known is None else set(known))
    data = plan.model_dump(mode="json")
    entry = NewEntry(
        goal=goal, goal_key=parsed.key, normalised=parsed.normalised,
        template=parsed.template, signature=parsed.signature,
        slots=[{"kind": v.kind, "text": v.text, "role": v.role} for v in parsed.values],
        graph=data, handlers=plan_handlers(data, known),
        catalogue_fp=catalogue_fingerprint(known))
    return entry, parsed


class PlanCache(Generic[E]):
    """``PlanCache(engine)``: the plan cache, with sync methods on a sync Engine
    and awaitable ones on an AsyncEngine; ``.aio`` is the async implementation."""

    def __init__(self, engine: E, *, threshold: float = 0.5,
                 max_entries: int | None = DEFAULT_MAX_ENTRIES) -> None:
        if not isinstance(engine, Engine | AsyncEngine):
            raise TypeError("PlanCache needs an engine: htdag.connect() or "
                            f"await htdag.aconnect(), got {type(engine).__name__}")
        self._sync = isinstance(engine, Engine)
        aengine = engine.aio if isinstance(engine, Engine) else engine
        self.aio = AsyncPlanCache(aengine, threshold=threshold, max_entries=max_entries)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T | Awaitable[T]:
        return portal().call(coro) if self._sync else coro

    @overload
    def put(self: PlanCache[Engine], goal: str, graph: TaskGraph | Mapping[str, Any],
            catalogue: Any = None) -> int: ...
    @overload
    def put(self: PlanCache[AsyncEngine], goal: str, graph: TaskGraph | Mapping[str, Any],
            catalogue: Any = None) -> Awaitable[int]: ...
    def put(self, goal: str, graph: TaskGraph | Mapping[str, Any], catalogue: Any = None
            ) -> int | Awaitable[int]:
        """Stores ``graph`` as the plan of ``goal``; returns the entry's id."""
        return self._call(self.aio.put(goal, graph, catalogue))

    @overload
    def lookup(self: PlanCache[Engine], goal: str, catalogue: Any = None
               ) -> CacheHit | None: ...
    @overload
    def lookup(self: PlanCache[AsyncEngine], goal: str, catalogue: Any = None
               ) -> Awaitable[CacheHit | None]: ...
    def lookup(self, goal: str, catalogue: Any = None
               ) -> Awaitable[CacheHit | None] | CacheHit | None:
        """The cached plan for ``goal`` re-bound to its values, or None."""
        return self._call(self.aio.lookup(goal, catalogue))

    @overload
    def stats(self: PlanCache[Engine]) -> dict[str, Any]: ...
    @overload
    def stats(self: PlanCache[AsyncEngine]) -> Awaitable[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        """Hits, misses and hit rate of this process, the table's entries and
        the evictions."""
        return self._call(self.aio.stats())


class CachedDecomposer(Decomposer):
    """Wraps any decomposer with a plan cache: a hit costs no call of ``inner``;
    a miss calls it, and its plan is served to later goals once the run that
    executes it completes. ``inner_calls`` counts the calls of ``inner``."""

    def __init__(self, inner: Decomposer, cache: PlanCache[Any] | AsyncPlanCache) -> None:
        self.inner = inner
        self._on_portal = isinstance(cache, PlanCache) and cache._sync
        self.cache = cache.aio if isinstance(cache, PlanCache) else cache
        self.name = f"cache+{inner.name}"
        self.inner_calls = 0

    async def decompose(self, goal: str, context: dict[str, Any]) -> TaskGraph:
        """The cached plan of ``goal``, else ``inner``'s (stored as pending). A
        goal with context of the caller's (beyond the catalogue and limits) is
        planned by ``inner`` and not cached: its plan may depend on that context."""
        record = record_in(context)
        catalogue = context.get("catalogue")
        cacheable = not set(context) - PLANNER_KEYS
        hit = None
        if cacheable:
            try:
                hit = await self._on_cache_loop(self.cache.lookup(goal, catalogue))
            except InvalidGoalError:
                cacheable = False  # a goal the cache cannot key (too long): inner decides
        if hit is not None:
            record.decomposer = record.decomposer or "cache"
            return hit.graph
        self.inner_calls += 1
        graph = await self.inner.decompose(goal, context)
        record.decomposer = record.decomposer or self.inner.name
        if cacheable:
            try:
                await self._on_cache_loop(self.cache.put_pending(goal, graph, catalogue))
            except HtdagError:  # the plan stands; the cache only misses it next time
                _log.warning("the plan of %r was not cached", goal[:80], exc_info=True)
        return graph

    async def _on_cache_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """A sync engine's pool lives on htdag's private loop: run there."""
        if self._on_portal and asyncio.get_running_loop() is not portal().loop:
            return await asyncio.wrap_future(portal().submit(coro))
        return await coro
