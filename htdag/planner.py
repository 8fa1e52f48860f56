"""The Planner: how goals become runs. An explicit object (decomposer, handler
catalogue, limits) with ``compose``, ``compose_graph`` and ``compose_many``, each
sync and async (``acompose``...). It plans the subgoals that tasks of its runs
submit, and starts a worker in this process when no live one serves its handlers.
Nothing of it lives in module globals."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, Union

from .core._json import reject_nul
from .core._portal import portal
from .core.context import TaskContext, WaitForRun
from .core.engine import AsyncEngine
from .core.errors import InvalidInput, NonRetryableError, RunCancelled, RunFailed, WaitTimeout
from .core.status import RunStatus
from .core.sync import Engine
from .decomposers._record import ENGINE_KEY, RECORD_KEY, DecompositionRecord
from .decomposers.base import Decomposer, NoDecomposition
from .decomposers.hybrid import default_decomposer
from .flow_builder import StepOverrides, build_flow, planning_handlers
from .graph import TaskGraph, resolve
from .handlers import HandlerRegistrationError, HandlerRegistry, default_registry
from .planning_store import PlanningStore
from .replan import REPLAN_KEY, carried_outputs, completed_outputs, replan_context

if TYPE_CHECKING:
    from .optimizer import Optimization, Optimizer

Handlers = HandlerRegistry | Mapping[str, Callable[..., Any]] | None
EngineRef = Engine | AsyncEngine | None
# A level ("basic", "advanced", "aggressive"), an Optimizer, or False for none.
Optimize = Union[str, "Optimizer", bool, None]
T = TypeVar("T")


@dataclass
class ComposeResult:
    """What a compose call returns."""

    run_id: uuid.UUID
    graph: TaskGraph
    decomposer: str
    status: RunStatus
    output: Any = None
    timings: dict[str, float] = field(default_factory=dict)
    # What the optimizer applied (compose with optimize=, or a Planner's optimizer).
    optimization: Optimization | None = None


def _registry(handlers: Handlers) -> HandlerRegistry:
    if handlers is None:
        return default_registry
    if isinstance(handlers, HandlerRegistry):
        return handlers
    return HandlerRegistry().merged(handlers)


class Planner:
    """Plans goals over a handler catalogue and runs them.

    ``decomposer`` turns a goal into a TaskGraph (default: rules, then the plan
    cache, then an LLM when HTDAG_LLM_MODEL names one: see default_decomposer); ``handlers`` is
    the catalogue (a HandlerRegistry or a name -> function mapping; default: the
    handlers registered with ``@htdag.handler``); ``max_depth`` bounds subgoal
    nesting and ``max_tasks`` the tasks of a root run and all its children.
    ``engine`` (a sync or async engine) is where its runs go; without one, it
    connects on first use (HTDAG_DATABASE_URL, DATABASE_URL, else the embedded
    server) and every call may then pass ``engine=`` to use another.
    ``optimizer`` (an Optimizer, or a level such as "advanced") learns the step
    options of every graph it builds, subgoals' included; a call's ``optimize=``
    overrides it (False: none)."""

    def __init__(self, decomposer: Decomposer | None = None, handlers: Handlers = None, *,
                 max_depth: int = 10, max_tasks: int | None = None,
                 engine: EngineRef = None, optimizer: Optimize = None) -> None:
        self.optimizer = _as_optimizer(optimizer)
        self.decomposer = decomposer or default_decomposer()
        self.registry = _registry(handlers)
        self.max_depth = max_depth
        self.max_tasks = max_tasks
        self._engine = engine
        self._own_engine_lock: asyncio.Lock | None = None
        self._engine_from: Planner | None = None  # see replace()

    def replace(self, *, decomposer: Decomposer | None = None, handlers: Handlers = None,
                max_depth: int | None = None, max_tasks: int | None = None) -> Planner:
        """A planner like this one with what is given changed; it uses this one's
        engine (connected once, whichever of them connects first)."""
        other = Planner(decomposer or self.decomposer,
                        self.registry if handlers is None else handlers,
                        max_depth=self.max_depth if max_depth is None else max_depth,
                        max_tasks=self.max_tasks if max_tasks is None else max_tasks,
                        engine=self._engine, optimizer=self.optimizer)
        other._engine_from = self._engine_from or self
        return other

    def __repr__(self) -> str:
        return (f"<Planner {self.decomposer.name} over {len(self.registry)} handlers, "
                f"max_depth={self.max_depth}, max_tasks={self.max_tasks}>")

    # planning -------------------------------------------------------------------

    async def adecompose(self, goal: str, context: Mapping[str, Any] | None = None
                         ) -> tuple[TaskGraph, float]:
        """The checked graph for ``goal`` and how long planning took (ms)."""
        if not isinstance(goal, str) or not goal.strip():
            raise NoDecomposition("the goal is empty: say in words what should be done")
        reject_nul(goal, "the goal")
        reject_nul(context, "the context")
        started = time.perf_counter()
        limits: dict[str, Any] = {"max_depth": self.max_depth}
        if self.max_tasks is not None:
            limits["max_tasks"] = self.max_tasks
        graph = await self.decomposer.decompose(goal, {"catalogue": self.registry, **limits,
                                                       **(context or {})})
        return graph.check(self.registry), (time.perf_counter() - started) * 1000

    def worker_handlers(self) -> dict[str, Callable[..., Any]]:
        """Every engine handler a worker needs to run this planner's graphs (for
        ``htdag worker``: ``HANDLERS = planner.worker_handlers()``)."""
        return planning_handlers(self.registry, self._subgoal_task)

    # composing (async) --------------------------------------------------------------

    async def acompose(self, goal: str, *, engine: EngineRef = None, wait: bool = True,
                       timeout: float | None = None, context: Mapping[str, Any] | None = None,
                       options: StepOverrides | None = None, start_worker: bool = True,
                       replan: int = 0, optimize: Optimize = None) -> ComposeResult:
        """Decomposes ``goal``, builds its flow, starts it and (by default) waits
        for its output; starts a worker in this process when none serves it.
        ``replan``: when the run fails, plan again (told the failed graph, the
        error and the completed tasks' outputs) and run the new plan, at most
        this many times; tasks that completed unchanged are not run again.
        ``optimize``: "basic", "advanced", "aggressive" or an Optimizer (see
        htdag.optimizer); ``options`` set by hand win over learned ones."""
        if isinstance(replan, bool) or not isinstance(replan, int) or replan < 0:
            raise InvalidInput(f"replan must be a whole number of times >= 0, not {replan!r}")
        if replan and not wait:
            raise InvalidInput("replan needs wait=True: a failed run is planned again only "
                               "while the call waits for it")
        optimizer = self._optimizer(optimize)
        return await self._on_engine(engine, lambda eng: self._compose(
            eng, goal, context, options, wait, timeout, start_worker, replan, optimizer))

    async def acompose_graph(self, graph: TaskGraph | Mapping[str, Any], *,
                             engine: EngineRef = None, wait: bool = True,
                             timeout: float | None = None, options: StepOverrides | None = None,
                             start_worker: bool = True, optimize: Optimize = None
                             ) -> ComposeResult:
        """Builds, starts and (by default) waits for a task graph."""
        optimizer = self._optimizer(optimize)
        return await self._on_engine(engine, lambda eng: self._run_graph(
            eng, graph, "given", 0.0, options, wait, timeout, start_worker,
            optimizer=optimizer))

    async def acompose_many(self, goals: Iterable[str], **options: Any) -> list[ComposeResult]:
        """Composes several goals concurrently; results in the order of the goals."""
        return list(await asyncio.gather(*(self.acompose(g, **options) for g in goals)))

    # composing (sync: the same calls on htdag's loop; they work inside Jupyter too) ---

    def decompose(self, goal: str, context: Mapping[str, Any] | None = None
                  ) -> tuple[TaskGraph, float]:
        """The graph ``goal`` plans into (checked against the catalogue) and the
        milliseconds it took, without running it: the sync form of adecompose."""
        return portal().call(self.adecompose(goal, context))

    def compose(self, goal: str, **options: Any) -> ComposeResult:
        return portal().call(self.acompose(goal, **options))

    def compose_graph(self, graph: TaskGraph | Mapping[str, Any], **options: Any
                      ) -> ComposeResult:
        return portal().call(self.acompose_graph(graph, **options))

    def compose_many(self, goals: Iterable[str], **options: Any) -> list[ComposeResult]:
        return portal().call(self.acompose_many(list(goals), **options))

    def _optimizer(self, optimize: Optimize) -> Optimizer | None:
        return self.optimizer if optimize is None else _as_optimizer(optimize)

    # engines ----------------------------------------------------------------------

    async def _on_engine(self, engine: EngineRef,
                         call: Callable[[AsyncEngine], Coroutine[Any, Any, T]]) -> T:
        """Runs ``call`` with the async engine to use, on the loop it belongs to: an
        async engine's is the caller's; a sync engine's (and this planner's own,
        connected on first use) is htdag's private loop."""
        chosen = engine if engine is not None else self._engine
        if isinstance(chosen, AsyncEngine):
            return await call(chosen)

        async def on_htdag_loop() -> T:
            aengine = chosen.aio if isinstance(chosen, Engine) else await self._own_engine()
            return await call(aengine)

        loop = portal().loop
        if asyncio.get_running_loop() is loop:
            return await on_htdag_loop()
        return await asyncio.wrap_future(portal().submit(on_htdag_loop()))

    async def _own_engine(self) -> AsyncEngine:
        """This planner's engine when it was given none (on htdag's loop)."""
        if self._engine_from is not None:
            return await self._engine_from._own_engine()
        self._own_engine_lock = self._own_engine_lock or asyncio.Lock()
        async with self._own_engine_lock:
            if self._engine is None:
                self._engine = Engine(await AsyncEngine.connect())  # closed at exit
            assert isinstance(self._engine, Engine)
            return self._engine.aio

    # the work ----------------------------------------------------------------------

    async def _compose(self, engine: AsyncEngine, goal: str, context: Mapping[str, Any] | None,
                       options: StepOverrides | None, wait: bool, timeout: float | None,
                       start_worker: bool, replan: int = 0, optimizer: Optimizer | None = None
                       ) -> ComposeResult:
        graph, took, record = await self._planned(engine, goal, context or {}, None, {})
        carried: dict[str, Any] = {}
        attempt = 0
        while True:
            try:
                return await self._run_graph(
                    engine, graph, record.decomposer or self.decomposer.name, took, options,
                    wait, timeout, start_worker, record, carried, optimizer)
            except RunFailed as exc:
                attempt += 1
                if attempt > replan or exc.run_id is None:
                    raise
                failed = exc.run_id
                completed = completed_outputs(graph, await engine.status(failed))
                told = {**(context or {}), REPLAN_KEY: replan_context(attempt, graph, str(exc),
                                                                      completed)}
                new, took, record = await self._planned(engine, goal, told, failed,
                                                        {"replan": attempt})
                carried = carried_outputs(graph, completed, new)
                await engine.store.record_event("decomposition.replanned", failed, {
                    "attempt": attempt, "of": replan, "error": str(exc)[:500],
                    "carried": sorted(carried), "tasks": len(new.tasks)})
                graph = new

    async def _planned(self, engine: AsyncEngine, goal: str, context: Mapping[str, Any],
                       run_id: uuid.UUID | None, about: dict[str, Any]
                       ) -> tuple[TaskGraph, float, DecompositionRecord]:
        """adecompose between a decomposition.started event and, when it fails, a
        decomposition.failed one (with what the attempts cost); the record says
        what the decomposer that answered spent (see DecompositionRecord)."""
        reject_nul(goal, "the goal")  # nothing the database could store: no event either
        reject_nul(context, "the context")
        shown = goal[:200] if isinstance(goal, str) else repr(goal)[:200]
        await engine.store.record_event("decomposition.started", run_id, {
            "goal": shown, "decomposer": self.decomposer.name, **about})
        record = DecompositionRecord()
        try:
            graph, took = await self.adecompose(goal, {**context, RECORD_KEY: record,
                                                       ENGINE_KEY: engine})
        except Exception as exc:
            figures = {k: v for k, v in record.figures().items() if v is not None}
            await engine.store.record_event("decomposition.failed", run_id, {
                "goal": shown, "decomposer": record.decomposer or self.decomposer.name,
                "error": str(exc)[:500].replace("\x00", "\\u0000"), **about, **figures})
            raise
        return graph, took, record

    async def _run_graph(self, engine: AsyncEngine, graph: TaskGraph | Mapping[str, Any],
                         decomposer: str, decompose_ms: float, options: StepOverrides | None,
                         wait: bool, timeout: float | None, start_worker: bool,
                         record: DecompositionRecord | None = None,
                         carried: Mapping[str, Any] | None = None,
                         optimizer: Optimizer | None = None) -> ComposeResult:
        graph = graph if isinstance(graph, TaskGraph) else TaskGraph.parse(graph)
        graph.check(self.registry)
        timings = {"decompose_ms": decompose_ms}
        optimization = None
        built, learned = graph, options
        if optimizer is not None:
            started = time.perf_counter()
            # Carried tasks keep their ids: a replanned graph is never restructured.
            optimization = await optimizer.aoptimize(graph, engine, restructure=not carried)
            built, learned = optimization.graph, _merged(optimization.options, options)
            await optimizer.aapply(optimization, engine)
            timings["optimize_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        flow, run_input = build_flow(built, options=learned, name=_flow_name(graph),
                                     carried=carried)
        timings["build_ms"] = (time.perf_counter() - started) * 1000
        if start_worker:
            await self.ensure_worker(engine)
        started = time.perf_counter()
        run = await engine.start(flow, run_input, max_tasks=self.max_tasks,
                                 max_depth=self.max_depth)
        timings["start_ms"] = (time.perf_counter() - started) * 1000
        if optimizer is not None and optimization is not None:
            await optimizer.arecord(optimization, flow.hash, run.run_id, engine)
        await PlanningStore.of(engine).record_decomposition(
            graph.goal, decomposer, graph.model_dump(mode="json"), decompose_ms, run.run_id,
            None, record)
        result = ComposeResult(run.run_id, graph, decomposer, RunStatus.RUNNING, timings=timings,
                               optimization=optimization)
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

    async def ensure_worker(self, engine: AsyncEngine, concurrency: int = 16) -> None:
        """Starts a worker for this planner in this process, unless one runs here
        already or a live worker elsewhere serves every handler it needs."""
        key = ("htdag.planner", id(self.registry), id(self.decomposer), self.max_depth)
        async with engine.local_workers_lock:
            if key in engine.local_workers:
                return
            for other in engine.local_workers.values():
                if isinstance(other.owner, Planner):
                    _check_no_clash(self.registry, other.owner.registry)
            handlers = self.worker_handlers()
            local_ids = {w.worker.worker_id for w in engine.local_workers.values()}
            now = datetime.now(UTC)
            for w in await engine.list_workers():
                alive = w.stopped_at is None and w.lost_at is None and \
                    (now - w.last_heartbeat_at).total_seconds() < w.lease_seconds
                if alive and set(handlers) <= set(w.handlers) and w.worker_id not in local_ids:
                    return
            engine.start_local_worker(key, engine.worker(
                handlers, concurrency=concurrency, max_depth=self.max_depth, subgoals=self),
                owner=self)

    # subgoals ----------------------------------------------------------------------

    async def submit_subgoal(self, ctx: TaskContext, goal_or_graph: Any, wait: bool,
                             context: dict[str, Any]) -> WaitForRun | uuid.UUID:
        """Plans a subgoal (a goal in words, or a graph) of the task ``ctx`` and
        starts it as a child run (what ``ctx.submit_subgoal`` calls)."""
        if isinstance(goal_or_graph, TaskGraph | Mapping):
            graph = goal_or_graph if isinstance(goal_or_graph, TaskGraph) \
                else TaskGraph.parse(goal_or_graph)
            graph.check(self.registry)
            name, took, record = "given", 0.0, None
        else:
            graph, took, record = await self._decompose_subgoal(ctx, str(goal_or_graph),
                                                                context)
            name = record.decomposer or self.decomposer.name
        optimization = None
        if self.optimizer is not None:
            optimization = await self.optimizer.aoptimize(graph, ctx.engine)
            await self.optimizer.aapply(optimization, ctx.engine)
        flow, run_input = build_flow(optimization.graph if optimization else graph,
                                     options=optimization.options if optimization else None,
                                     name=_flow_name(graph))
        child = await ctx.start_child_run(flow, run_input, wait=wait)
        child_id = child.run_id if isinstance(child, WaitForRun) else child
        if self.optimizer is not None and optimization is not None:
            await self.optimizer.arecord(optimization, flow.hash, child_id, ctx.engine)
        store = ctx.engine.store
        await PlanningStore.of(ctx.engine).record_decomposition(
            graph.goal, name, graph.model_dump(mode="json"), took, child_id, ctx.run_id, record)
        await store.record_event("subgoal.submitted", ctx.run_id, {
            "child_run_id": str(child_id), "step": ctx.step, "task_index": ctx.task_index,
            "goal": graph.goal[:200], "wait": wait})
        return child

    async def _decompose_subgoal(self, ctx: TaskContext, goal: str, context: dict[str, Any]
                                 ) -> tuple[TaskGraph, float, DecompositionRecord]:
        try:  # a NUL would fail every retry the same way
            reject_nul(goal, "the subgoal")
            reject_nul(context, "the subgoal's context")
        except InvalidInput as exc:
            raise NonRetryableError(str(exc)) from None
        parent = await ctx.engine.store.get_run(ctx.run_id)
        depth = int(parent["depth"]) + 1 if parent else 1  # the child run's
        try:
            return await self._planned(ctx.engine, goal, {**context, "depth": depth},
                                       ctx.run_id, {"step": ctx.step})
        except NonRetryableError:
            raise
        except Exception as exc:
            raise NonRetryableError(f"{type(exc).__name__}: {exc}") from exc

    async def _subgoal_task(self, inp: dict[str, Any], ctx: TaskContext
                            ) -> WaitForRun | uuid.UUID:
        """The engine handler of goal tasks: decompose the subgoal, run it as a child."""
        outputs = {k: v for k, v in inp.items() if k != "run"}
        spec = resolve(inp["run"]["params"][ctx.step], outputs)
        return await self.submit_subgoal(ctx, spec["goal"], True,
                                         dict(spec.get("context") or {}))


def _as_optimizer(optimize: Optimize) -> Optimizer | None:
    """An Optimizer from what ``optimizer=``/``optimize=`` take (None, False: none)."""
    if optimize is None or optimize is False:
        return None
    from .optimizer import Optimizer

    if isinstance(optimize, Optimizer):
        return optimize
    if optimize is True:
        return Optimizer(level="basic")
    if isinstance(optimize, str):
        return Optimizer(level=optimize)  # type: ignore[arg-type]  # it checks the level
    raise InvalidInput(f"optimize takes a level ('basic', 'advanced', 'aggressive'), an "
                       f"Optimizer or False, not {type(optimize).__name__}")


def _merged(learned: Mapping[str, Mapping[str, Any]], given: StepOverrides | None
            ) -> dict[str, dict[str, Any]]:
    """Learned options by task id, with options given by hand winning."""
    merged = {task: dict(opts) for task, opts in learned.items()}
    for task, opts in (given or {}).items():
        merged.setdefault(task, {}).update(opts)
    return merged


def _flow_name(graph: TaskGraph) -> str:
    # By structure, not goal: one rule's graphs for different goals share a flow.
    return "graph:" + "-".join(t.id for t in graph.tasks)[:70]


def _check_no_clash(registry: HandlerRegistry, other: HandlerRegistry) -> None:
    """Handler names are global in a database: any worker serving a name may run
    any task calling it, so one process must not serve two functions under one name."""
    for name in set(registry) & set(other):
        if registry.get(name).fn is not other.get(name).fn:
            raise HandlerRegistrationError(
                f"handler {name!r} is already served in this process by another function "
                "(from another registry); handler names are global in a database: "
                "give one of them another name")
