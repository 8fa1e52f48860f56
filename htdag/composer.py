"""compose_from_goal: decompose a goal, build its flow, start it, and wait.
Also installs the subgoal submitter that ``ctx.submit_subgoal`` calls."""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .core import context as core_context
from .core._json import reject_nul
from .core._portal import portal
from .core.context import TaskContext, WaitForRun
from .core.engine import AsyncEngine
from .core.errors import InvalidInput, NonRetryableError, RunCancelled, RunFailed, WaitTimeout
from .core.status import RunStatus
from .core.sync import Engine, connect
from .core.worker import Worker
from .decomposers.base import Decomposer, NoDecomposition
from .decomposers.rules import RuleDecomposer
from .flow_builder import StepOverrides, build_flow, planning_handlers
from .graph import TaskGraph, resolve
from .handlers import HandlerRegistrationError, HandlerRegistry, default_registry

Handlers = HandlerRegistry | Mapping[str, Callable[..., Any]] | None


@dataclass
class Planner:
    """How this process plans: its decomposer, its handlers and its limits.
    Subgoals submitted by tasks running here use it too."""

    decomposer: Decomposer = field(default_factory=RuleDecomposer)
    registry: HandlerRegistry = field(default_factory=lambda: default_registry)
    max_depth: int = 10
    max_tasks: int | None = None


_planner = Planner()


def configure(decomposer: Decomposer | None = None, handlers: Handlers = None, *,
              max_depth: int | None = None, max_tasks: int | None = None) -> Planner:
    """Sets this process's planner (used by compose_* and by subgoals)."""
    global _planner
    _planner = Planner(decomposer or _planner.decomposer, _registry(handlers, _planner.registry),
                       _planner.max_depth if max_depth is None else max_depth,
                       max_tasks if max_tasks is not None else _planner.max_tasks)
    return _planner


def _registry(handlers: Handlers, fallback: HandlerRegistry) -> HandlerRegistry:
    if handlers is None:
        return fallback
    if isinstance(handlers, HandlerRegistry):
        return handlers
    return HandlerRegistry().merged(handlers)


@dataclass
class ComposeResult:
    """What compose_from_goal returns."""

    run_id: uuid.UUID
    graph: TaskGraph
    decomposer: str
    status: RunStatus
    output: Any = None
    timings: dict[str, float] = field(default_factory=dict)


async def decompose(goal: str, planner: Planner, context: Mapping[str, Any] | None = None
                    ) -> tuple[TaskGraph, float]:
    if not isinstance(goal, str) or not goal.strip():
        raise NoDecomposition("the goal is empty: say in words what should be done")
    started = time.perf_counter()
    ctx = {"catalogue": planner.registry, **(context or {})}
    graph = await planner.decomposer.decompose(goal, ctx)
    return graph.check(planner.registry), (time.perf_counter() - started) * 1000


# in-process workers ---------------------------------------------------------------

# An in-process worker runs the functions of one registry with one planner, so it
# is keyed by their identity (two registries may use the same handler names).
_WorkerKey = tuple[int, int, int]
_engine_planners: weakref.WeakKeyDictionary[AsyncEngine, Planner] = weakref.WeakKeyDictionary()
_local_workers: weakref.WeakKeyDictionary[
    AsyncEngine, dict[_WorkerKey, tuple[Worker, HandlerRegistry]]] = weakref.WeakKeyDictionary()
_worker_locks: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Lock] = weakref.WeakKeyDictionary()


async def ensure_worker(engine: AsyncEngine, planner: Planner, concurrency: int = 16) -> None:
    """Starts a worker in this process unless a live one serves these handlers."""
    _engine_planners[engine] = planner  # what ctx.submit_subgoal plans with here
    key = (id(planner.registry), id(planner.decomposer), planner.max_depth)
    lock = _worker_locks.setdefault(engine, asyncio.Lock())
    async with lock:  # concurrent composes must not each start a worker
        local = _local_workers.setdefault(engine, {})
        if key in local:
            return
        _check_no_clash(planner.registry, [reg for _, reg in local.values()])
        handlers = planning_handlers(planner.registry, _subgoal_handler(planner))
        now = datetime.now(UTC)
        for w in await engine.list_workers():
            alive = w.stopped_at is None and w.lost_at is None and \
                (now - w.last_heartbeat_at).total_seconds() < w.lease_seconds
            if alive and set(handlers) <= set(w.handlers) and w.worker_id not in {
                    lw.worker_id for lw, _ in local.values()}:
                return
        worker = engine.worker(handlers, concurrency=concurrency, max_depth=planner.max_depth)
        local[key] = (worker, planner.registry)
        task = asyncio.get_running_loop().create_task(worker.run(), name="htdag-local-worker")
        engine.on_close(_stopper(worker, task))


def _check_no_clash(registry: HandlerRegistry, others: list[HandlerRegistry]) -> None:
    """Handler names are global in a database: any worker serving a name may run
    any task calling it, so one process must not serve two functions under one name."""
    for other in others:
        for name in set(registry) & set(other):
            if registry.get(name).fn is not other.get(name).fn:
                raise HandlerRegistrationError(
                    f"handler {name!r} is already served in this process by another function "
                    "(from another registry); handler names are global in a database: "
                    "give one of them another name")


def _stopper(worker: Worker, task: asyncio.Task[None]) -> Callable[[], Any]:
    async def stop() -> None:
        worker.stop()
        await asyncio.wait_for(task, worker.shutdown_timeout + 5)
    return stop


# composing ------------------------------------------------------------------------


async def acompose_from_task_graph(
        graph: TaskGraph | Mapping[str, Any], *, engine: AsyncEngine | None = None,
        handlers: Handlers = None, options: StepOverrides | None = None, wait: bool = True,
        timeout: float | None = None, start_worker: bool = True,
        max_tasks: int | None = None, _decomposer: str = "given",
        _decompose_ms: float = 0.0, _planner_used: Planner | None = None) -> ComposeResult:
    """Builds, starts and (by default) waits for a task graph."""
    planner = _planner_used or Planner(_planner.decomposer, _registry(handlers, _planner.registry),
                                       _planner.max_depth, max_tasks or _planner.max_tasks)
    graph = graph if isinstance(graph, TaskGraph) else TaskGraph.parse(graph)
    graph.check(planner.registry)
    engine = engine or await _default_engine()
    timings = {"decompose_ms": _decompose_ms}
    started = time.perf_counter()
    flow, run_input = build_flow(graph, options=options, name=_flow_name(graph))
    timings["build_ms"] = (time.perf_counter() - started) * 1000
    if start_worker:
        await ensure_worker(engine, planner)
    started = time.perf_counter()
    run = await engine.start(flow, run_input, max_tasks=planner.max_tasks)
    timings["start_ms"] = (time.perf_counter() - started) * 1000
    await engine.store.record_decomposition(graph.goal, _decomposer,
                                            graph.model_dump(mode="json"), _decompose_ms,
                                            run.run_id, None)
    result = ComposeResult(run.run_id, graph, _decomposer, RunStatus.RUNNING, timings=timings)
    if wait:
        started = time.perf_counter()
        try:
            result.output = await run.wait(timeout)
            result.status = RunStatus.COMPLETED
        except (WaitTimeout, RunFailed, RunCancelled) as exc:
            exc.run_id = run.run_id  # so the caller can inspect or cancel the run
            raise
        finally:
            timings["run_ms"] = (time.perf_counter() - started) * 1000
    timings["total_ms"] = sum(timings.values())
    return result


async def acompose_from_goal(
        goal: str, *, decomposer: Decomposer | None = None, handlers: Handlers = None,
        engine: AsyncEngine | None = None, wait: bool = True, timeout: float | None = None,
        context: Mapping[str, Any] | None = None, options: StepOverrides | None = None,
        start_worker: bool = True, max_tasks: int | None = None) -> ComposeResult:
    """Decomposes ``goal``, builds its flow, starts it and (by default) waits for
    its output; starts an in-process worker when none serves the handlers."""
    planner = Planner(decomposer or _planner.decomposer, _registry(handlers, _planner.registry),
                      _planner.max_depth, max_tasks or _planner.max_tasks)
    reject_nul(goal, "the goal")
    reject_nul(context, "the context")
    engine = engine or await _default_engine()
    try:
        graph, took = await decompose(goal, planner, context)
    except Exception as exc:
        await engine.store.record_event("decomposition.failed", None, {
            "goal": goal[:200], "decomposer": planner.decomposer.name, "error": str(exc)[:500]})
        raise
    return await acompose_from_task_graph(
        graph, engine=engine, handlers=planner.registry, options=options, wait=wait,
        timeout=timeout, start_worker=start_worker, max_tasks=planner.max_tasks,
        _decomposer=planner.decomposer.name, _decompose_ms=took, _planner_used=planner)


async def acompose_multiple_workflows(goals: Iterable[str], **options: Any
                                      ) -> list[ComposeResult]:
    """Composes several goals concurrently; results in the order of the goals."""
    return list(await asyncio.gather(*(acompose_from_goal(g, **options) for g in goals)))


def _flow_name(graph: TaskGraph) -> str:
    # By structure, not goal: one rule's graphs for different goals share a flow.
    return "graph:" + "-".join(t.id for t in graph.tasks)[:70]


_default_engines: dict[int, AsyncEngine] = {}


async def _default_engine() -> AsyncEngine:
    loop = id(asyncio.get_running_loop())
    if loop not in _default_engines:
        _default_engines[loop] = await AsyncEngine.connect()
    return _default_engines[loop]


# subgoals --------------------------------------------------------------------------


async def _submit_subgoal(ctx: TaskContext, goal_or_graph: Any, wait: bool,
                          context: dict[str, Any], planner: Planner | None = None
                          ) -> WaitForRun | uuid.UUID:
    planner = planner or _engine_planners.get(ctx.engine) or _planner
    if isinstance(goal_or_graph, TaskGraph | Mapping):
        graph = goal_or_graph if isinstance(goal_or_graph, TaskGraph) \
            else TaskGraph.parse(goal_or_graph)
        graph.check(planner.registry)
        name, took = "given", 0.0
    else:
        try:  # a NUL would fail every retry the same way
            reject_nul(str(goal_or_graph), "the subgoal")
            reject_nul(context, "the subgoal's context")
        except InvalidInput as exc:
            raise NonRetryableError(str(exc)) from None
        try:
            graph, took = await decompose(str(goal_or_graph), planner, context)
        except Exception as exc:
            await ctx.engine.store.record_event("decomposition.failed", ctx.run_id, {
                "goal": str(goal_or_graph)[:200], "decomposer": planner.decomposer.name,
                "error": str(exc)[:500], "step": ctx.step})
            if isinstance(exc, NonRetryableError):
                raise
            raise NonRetryableError(f"{type(exc).__name__}: {exc}") from exc
        name = planner.decomposer.name
    flow, run_input = build_flow(graph, name=_flow_name(graph))
    child = await ctx.start_child_run(flow, run_input, wait=wait)
    child_id = child.run_id if isinstance(child, WaitForRun) else child
    store = ctx.engine.store
    await store.record_decomposition(graph.goal, name, graph.model_dump(mode="json"), took,
                                     child_id, ctx.run_id)
    await store.record_event("subgoal.submitted", ctx.run_id, {
        "child_run_id": str(child_id), "step": ctx.step, "task_index": ctx.task_index,
        "goal": graph.goal[:200], "wait": wait})
    return child


def _subgoal_handler(planner: Planner) -> Callable[..., Any]:
    async def subgoal(inp: dict[str, Any], ctx: TaskContext) -> WaitForRun | uuid.UUID:
        """The engine handler of goal tasks: decompose the subgoal, run it as a child."""
        outputs = {k: v for k, v in inp.items() if k != "run"}
        spec = resolve(inp["run"]["params"][ctx.step], outputs)
        return await _submit_subgoal(ctx, spec["goal"], True, dict(spec.get("context") or {}),
                                     planner)
    return subgoal


core_context.install_subgoal_submitter(_submit_subgoal)


# sync forms ------------------------------------------------------------------------


def compose_from_goal(goal: str, *, engine: Engine | None = None, **options: Any
                      ) -> ComposeResult:
    """The sync form of :func:`acompose_from_goal` (works inside Jupyter too)."""
    aengine = engine.aio if engine is not None else _sync_default().aio
    return portal().call(acompose_from_goal(goal, engine=aengine, **options))


def compose_from_task_graph(graph: TaskGraph | Mapping[str, Any], *,
                            engine: Engine | None = None, **options: Any) -> ComposeResult:
    aengine = engine.aio if engine is not None else _sync_default().aio
    return portal().call(acompose_from_task_graph(graph, engine=aengine, **options))


def compose_multiple_workflows(goals: Iterable[str], *, engine: Engine | None = None,
                               **options: Any) -> list[ComposeResult]:
    aengine = engine.aio if engine is not None else _sync_default().aio
    return portal().call(acompose_multiple_workflows(list(goals), engine=aengine, **options))


_sync_engine: Engine | None = None


def _sync_default() -> Engine:
    global _sync_engine
    if _sync_engine is None:
        _sync_engine = connect()
    return _sync_engine


__all__ = ["ComposeResult", "Planner", "RunFailed", "acompose_from_goal",
           "acompose_from_task_graph", "acompose_multiple_workflows", "compose_from_goal",
           "compose_from_task_graph", "compose_multiple_workflows", "configure"]
