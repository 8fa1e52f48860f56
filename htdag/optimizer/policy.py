"""The Optimizer: learned step options for a graph, from the attempts its
handlers recorded, by level.

* ``basic``: timeouts.
* ``advanced``: plus retries (fail fast on errors that failed again on every
  retry, a retry budget), concurrency limits of the graph's concurrency keys,
  and critical-path priorities.
* ``aggressive``: plus hedged second attempts of stragglers (idempotent
  handlers only) and, with ``preserve_structure=False``, chains of very short
  tasks fused into one task.

Nothing is applied below a learner's minimum number of samples: the static
option stays. The planner applies an optimization when it builds a graph into a
flow (``compose_from_goal(goal, optimize="advanced")``) and records every
decision with the flow version it produced (optimizer.applied events)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..core.engine import AsyncEngine
from ..core.errors import InvalidInput
from ..core.sync import Engine
from ..graph import TaskGraph, TaskSpec
from ..handlers import MAP_PREFIX
from . import metrics
from .decisions import LEVELS, Decision, Level, Optimization, evidence_of
from .samples import Attempts

if TYPE_CHECKING:
    from .explain import Explanation

EngineRef = Engine | AsyncEngine | None


class Optimizer:
    """Learns step options from recorded attempts (see the module's docs).

    ``min_samples``: successful attempts a learner needs before it applies
    anything; ``history``: the latest attempts read per handler; ``since``: only
    attempts younger than this; ``idempotent``: handlers that may run twice at
    once (hedging needs it); ``fuse_under``: the predicted seconds under which
    tasks of a chain are fused."""

    def __init__(self, engine: EngineRef = None, *, level: Level = "basic",
                 preserve_structure: bool = True, min_samples: int = 50,
                 history: int = 10_000, since: timedelta | None = None,
                 idempotent: frozenset[str] | set[str] = frozenset(),
                 fuse_under: float = 0.05) -> None:
        if level not in LEVELS:
            raise InvalidInput(f"optimizer level {level!r} is not one of {', '.join(LEVELS)}")
        if min_samples < 1 or history < 1:
            raise InvalidInput(f"min_samples ({min_samples}) and history ({history}) must be "
                               ">= 1")
        self.engine = engine
        self.level: Level = level
        self.preserve_structure = preserve_structure
        self.min_samples = min_samples
        self.history = history
        self.since = since
        self.idempotent = frozenset(idempotent)
        self.fuse_under = fuse_under

    def __repr__(self) -> str:
        return (f"Optimizer(level={self.level!r}, preserve_structure={self.preserve_structure}, "
                f"min_samples={self.min_samples})")

    def at_least(self, level: Level) -> bool:
        return LEVELS.index(self.level) >= LEVELS.index(level)

    def async_engine(self, engine: EngineRef = None) -> AsyncEngine:
        found = engine if engine is not None else self.engine
        if isinstance(found, Engine):
            return found.aio
        if found is None:
            raise InvalidInput("the optimizer needs an engine: Optimizer(engine, ...), or pass "
                               "engine= to the call")
        return found

    # -- a graph ---------------------------------------------------------------

    async def aoptimize(self, graph: TaskGraph, engine: EngineRef = None, *,
                        restructure: bool = True) -> Optimization:
        """The learned options of ``graph``'s tasks (a dry run: nothing is
        stored or set; the planner applies and records it). ``restructure``:
        False keeps the graph's tasks as they are whatever the level."""
        eng = self.async_engine(engine)
        reader = _Reader(eng, self)
        result = Optimization(graph=graph)
        if self.at_least("aggressive") and not self.preserve_structure and restructure:
            await self._restructure(result, reader)
        for task in result.graph.tasks:
            if task.kind != "task" or task.handler is None or task.handler.startswith("htdag."):
                continue
            attempts = await reader.of_handler(engine_handler(task))
            self._timeout(result, task, attempts)
            if self.at_least("advanced"):
                self._retries(result, task, attempts)
            if self.at_least("aggressive"):
                self._hedge(result, task, attempts)
        if self.at_least("advanced"):
            await self._concurrency(result, reader)
            await self._priorities(result, reader)
        return result

    def _set(self, result: Optimization, task: str, option: str, value: Any) -> None:
        result.options.setdefault(task, {})[option] = value

    def _timeout(self, result: Optimization, task: TaskSpec, attempts: Attempts) -> None:
        from .timeouts import learn_timeout

        learned = learn_timeout(attempts, static=task.options.timeout,
                                min_samples=self.min_samples)
        value = None if learned.value is None else round(float(learned.value), 6)
        if learned.applied and value is not None:
            self._set(result, task.id, "timeout", value)
        result.decisions.append(_decision("timeout", learned, self.level, task, value,
                                          task.options.timeout))

    def _retries(self, result: Optimization, task: TaskSpec, attempts: Attempts) -> None:
        from .retries import learn_retries

        learned = learn_retries(attempts, static_max_attempts=task.options.max_attempts)
        value: dict[str, Any] = {}
        if learned.applied:
            value = {"max_attempts": learned.max_attempts, "retry_budget": learned.retry_budget}
            if learned.deterministic:
                value["fail_fast"] = list(learned.deterministic)
            for option, v in value.items():
                self._set(result, task.id, option, tuple(v) if option == "fail_fast" else v)
        result.decisions.append(_decision("retries", learned, self.level, task, value or None,
                                          {"max_attempts": task.options.max_attempts}))

    def _hedge(self, result: Optimization, task: TaskSpec, attempts: Attempts) -> None:
        from .hedging import learn_hedge_delay

        if task.handler not in self.idempotent:
            result.decisions.append(Decision(
                "hedge", False, f"not hedged: {task.handler} is not declared idempotent "
                                "(Optimizer(idempotent={...}))", self.level, task.id,
                engine_handler(task)))
            return
        learned = learn_hedge_delay(attempts)
        delay = None if learned.delay is None else round(float(learned.delay), 6)
        if learned.applied and delay is not None:
            self._set(result, task.id, "hedge_after", delay)
        result.decisions.append(_decision("hedge", learned, self.level, task, delay, None))

    async def _restructure(self, result: Optimization, reader: _Reader) -> None:
        from .restructure import fuse_short_chains

        predicted = {}
        for task in result.graph.tasks:
            if task.handler is not None and task.map_over is None:
                predicted[task.handler] = await reader.median(task.handler)
        learned = fuse_short_chains(result.graph, predicted, max_seconds=self.fuse_under)
        if learned.applied:
            result.graph = learned.graph
        result.decisions.append(Decision(
            "restructure", learned.applied, learned.reason, self.level,
            value=[list(chain) for chain in learned.fused] or None,
            evidence=evidence_of(learned) | {"predicted": predicted}))

    async def _concurrency(self, result: Optimization, reader: _Reader) -> None:
        keys = sorted({t.options.concurrency_key for t in result.graph.tasks
                       if t.options.concurrency_key})
        for key in keys:
            decision, limit = await self.learn_limit(reader.engine, key)
            if limit is not None:
                result.limits[key] = limit
            result.decisions.append(decision)

    async def learn_limit(self, engine: AsyncEngine, key: str) -> tuple[Decision, int | None]:
        """The concurrency limit learned for ``key`` now (None: keep the current)."""
        from .concurrency import learn_concurrency

        current = (await engine.concurrency_limits()).get(key)
        attempts = await metrics.read_attempts(engine, key=key, since=self._since(),
                                               limit=self.history)
        learned = learn_concurrency(attempts, current_limit=current,
                                    min_samples=min(self.min_samples, 30))
        limit = learned.limit if learned.applied and learned.limit != current else None
        return Decision("concurrency", learned.applied, learned.reason, self.level,
                        concurrency_key=key, value=learned.limit, static=current,
                        evidence=evidence_of(learned)), limit

    async def _priorities(self, result: Optimization, reader: _Reader) -> None:
        from .priorities import critical_path_priorities, prediction_error

        predicted: dict[str, float] = {}
        observed: dict[str, list[float]] = {}
        for task in result.graph.tasks:
            if task.handler is not None:
                median = await reader.median(engine_handler(task))
                if median is not None:
                    predicted[task.id] = median
                    ok = (await reader.of_handler(engine_handler(task))).ok_durations()
                    observed[task.id] = [float(d) for d in ok[-200:]]
        if not predicted:
            result.decisions.append(Decision(
                "priority", False, f"no handler of the graph has {self.min_samples} successful "
                                   "attempts: claims stay first in, first out", self.level))
            return
        steps = {t.id: sorted(t.dependencies()) for t in result.graph.tasks}
        # How far the predictions miss the recorded durations: too far, and
        # claims stay first in, first out (wrong priorities can be worse).
        learned = critical_path_priorities(
            steps, predicted, prediction_error=prediction_error(predicted, observed))
        for task in result.graph.tasks:
            value = learned.priorities.get(task.id)
            if not learned.applied or value is None:
                continue
            if task.options.priority != 0:
                continue  # a priority set by hand is intent, not a guess: kept
            self._set(result, task.id, "priority", int(value))
        result.decisions.append(Decision(
            "priority", learned.applied, learned.reason, self.level,
            value=dict(learned.priorities) if learned.applied else None,
            evidence=evidence_of(learned)))

    def _since(self) -> datetime | None:
        return None if self.since is None else datetime.now(UTC) - self.since

    # -- recording and tuning ----------------------------------------------------

    async def aapply(self, optimization: Optimization, engine: EngineRef = None) -> None:
        """Sets the concurrency limits an optimization learned (before its run
        starts, so that its claims keep them)."""
        eng = self.async_engine(engine)
        for key, limit in optimization.limits.items():
            await eng.set_concurrency_limit(key, limit)

    async def arecord(self, optimization: Optimization, flow_hash: str | None,
                      run_id: uuid.UUID | None, engine: EngineRef = None) -> list[int]:
        """Stores an optimization's decisions with the flow (and run) it produced."""
        return await metrics.record_decisions(
            self.async_engine(engine), flow_hash, run_id,
            [d.as_record() for d in optimization.decisions])

    async def atune(self, engine: EngineRef = None, keys: list[str] | None = None
                    ) -> list[Decision]:
        """Re-evaluates the concurrency limits of ``keys`` (every key with recorded
        attempts or a limit when None) from the attempts recorded so far, sets
        those that changed and records every decision: call it as metrics arrive
        (``htdag optimizer tune --every 10``)."""
        eng = self.async_engine(engine)
        found = keys if keys is not None else await metrics.keys_with_attempts(eng)
        decisions = []
        for key in found:
            decision, limit = await self.learn_limit(eng, key)
            if limit is not None:
                await eng.set_concurrency_limit(key, limit)
            decisions.append(decision)
        await metrics.record_decisions(eng, None, None, [d.as_record() for d in decisions])
        return decisions

    async def aexplain(self, target: TaskGraph | Mapping[str, Any] | str | uuid.UUID | Any,
                       engine: EngineRef = None) -> Explanation:
        """Each decision with its evidence: for a graph, what would be applied now
        (nothing is stored); for a flow (a Flow or its hash) or a run id, what was
        recorded when it was built."""
        from .explain import explain

        return await explain(self, target, self.async_engine(engine))

    # sync forms ------------------------------------------------------------------

    def optimize(self, graph: TaskGraph, engine: EngineRef = None) -> Optimization:
        from ..core._portal import portal

        return portal().call(self.aoptimize(graph, engine))

    def tune(self, engine: EngineRef = None, keys: list[str] | None = None) -> list[Decision]:
        from ..core._portal import portal

        return portal().call(self.atune(engine, keys))

    def explain(self, target: Any, engine: EngineRef = None) -> Explanation:
        from ..core._portal import portal

        return portal().call(self.aexplain(target, engine))


def engine_handler(task: TaskSpec) -> str:
    """The handler a task's attempts are recorded under (a map task's: map:<name>)."""
    name = str(task.handler)
    return MAP_PREFIX + name if task.map_over is not None else name


def _decision(kind: Any, learned: Any, level: Level, task: TaskSpec, value: Any,
              static: Any) -> Decision:
    return Decision(kind, bool(learned.applied), learned.reason, level, task.id,
                    engine_handler(task), task.options.concurrency_key, value, static,
                    evidence_of(learned))


class _Reader:
    """Attempts of each handler, read once per optimization."""

    def __init__(self, engine: AsyncEngine, optimizer: Optimizer) -> None:
        self.engine = engine
        self.optimizer = optimizer
        self._cache: dict[str, Attempts] = {}

    async def of_handler(self, handler: str) -> Attempts:
        if handler not in self._cache:
            self._cache[handler] = await metrics.read_attempts(
                self.engine, handler=handler, since=self.optimizer._since(),
                limit=self.optimizer.history)
        return self._cache[handler]

    async def median(self, handler: str) -> float | None:
        """The median successful duration, None below the minimum sample count."""
        import numpy as np

        ok = (await self.of_handler(handler)).ok_durations()
        if len(ok) < self.optimizer.min_samples:
            return None
        return float(np.median(ok))
