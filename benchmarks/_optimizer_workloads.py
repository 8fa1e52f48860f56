"""What benchmarks/optimizer.py runs: in-process workers, runs waited for
through the database, flows described as task graphs for the Optimizer, and the
handlers of its workloads (each decides what it does from its input and
attempt with a seeded RNG, so that the benchmark knows which calls were meant
to hang, to fail or to be slow without asking the engine)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from htdag.core.context import TaskContext
from htdag.core.definitions import Flow
from htdag.core.engine import AsyncEngine
from htdag.graph import TaskGraph
from htdag.optimizer import Optimization, Optimizer

SEED = 20261205
Note = Callable[..., None]


class BenchmarkFailed(RuntimeError):
    """A workload did not run as the benchmark needs (a run did not finish in
    time, a run it expected to complete failed): its figures would mean nothing."""


# --- running ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def worker(engine: AsyncEngine, handlers: Mapping[str, Callable[..., Any]], slots: int,
                 **options: Any) -> AsyncIterator[uuid.UUID]:
    """An in-process worker with ``slots`` slots for the block (and the other
    worker ``options``), registered before it starts (so that a makespan does
    not count its start-up); yields its id."""
    running = engine.worker(dict(handlers), concurrency=slots, shutdown_timeout=5.0, **options)
    job = asyncio.create_task(running.run(), name="bench-worker")
    try:
        deadline = time.monotonic() + 30
        while not await engine.store.db.value(
                "select 1 from htdag.workers where worker_id = %s", (running.worker_id,)):
            if job.done() or time.monotonic() > deadline:
                raise BenchmarkFailed("the benchmark's worker did not register within 30 s")
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # its LISTEN connection
        yield running.worker_id
    finally:
        running.stop()
        await asyncio.wait((job,), timeout=15)


async def wait_runs(engine: AsyncEngine, run_ids: Iterable[uuid.UUID], timeout: float
                    ) -> dict[uuid.UUID, str]:
    """Polls until every run finished; returns each run's status."""
    ids = list(run_ids)
    deadline = time.monotonic() + timeout
    while True:
        rows = await engine.store.db.rows(
            "select run_id, status::text as status from htdag.runs where run_id = any(%s)",
            (ids,))
        statuses = {r["run_id"]: r["status"] for r in rows}
        if all(statuses.get(i) not in (None, "running") for i in ids):
            return statuses
        if time.monotonic() > deadline:
            left = sum(1 for i in ids if statuses.get(i) in (None, "running"))
            raise BenchmarkFailed(f"{left} of {len(ids)} runs still running after {timeout:g} s")
        await asyncio.sleep(0.05)


async def start_runs(engine: AsyncEngine, flow: Flow, inputs: Iterable[Any]) -> list[uuid.UUID]:
    """Starts one run per input, a few at a time."""
    ids: list[uuid.UUID] = []
    batch = list(inputs)
    for start in range(0, len(batch), 16):
        handles = await asyncio.gather(*(engine.start(flow, i) for i in batch[start:start + 16]))
        ids.extend(h.run_id for h in handles)
    return ids


async def makespan(engine: AsyncEngine, run_id: uuid.UUID) -> float:
    """Seconds from a run's start to its completion, by the database's clock."""
    value = await engine.store.db.value(
        "select extract(epoch from completed_at - started_at) from htdag.runs"
        " where run_id = %s and status = 'completed'", (run_id,))
    if value is None:
        raise BenchmarkFailed(f"run {run_id} did not complete")
    return float(value)


async def attempts_of(engine: AsyncEngine, run_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """The recorded attempts of these runs, with their task's index and run input."""
    return await engine.store.db.rows(
        "select a.run_id, t.task_index, a.attempt, a.outcome, a.hedge,"
        "       extract(epoch from a.finished_at - a.started_at)::float8 as duration,"
        "       r.input as run_input"
        " from htdag.attempts a join htdag.tasks t using (task_id)"
        " join htdag.runs r on r.run_id = a.run_id"
        " where a.run_id = any(%s) order by a.run_id, t.task_index, a.attempt", (run_ids,))


# --- the optimizer on flows -----------------------------------------------------------


def graph_of(flow: Flow) -> TaskGraph:
    """``flow`` as the task graph the Optimizer reads: one task per step, with
    the step's name, handler (the name its attempts are recorded under, map
    steps' too), dependencies and options."""
    return TaskGraph.parse({"goal": flow.name, "tasks": [
        {"id": s.name, "handler": s.handler, "depends_on": list(s.depends_on),
         "options": s.options.model_dump(exclude_none=True)} for s in flow.steps]})


async def learned_flow(optimizer: Optimizer, engine: AsyncEngine, flow: Flow,
                       options: Iterable[str]) -> tuple[Flow, Optimization]:
    """``flow`` with the learned values of ``options`` (the other learned
    options are left out, so that a figure measures one learner), and the
    optimization they come from."""
    wanted = set(options)
    optimization = await optimizer.aoptimize(graph_of(flow), engine)
    overrides = {step: {k: v for k, v in learned.items() if k in wanted}
                 for step, learned in optimization.options.items()}
    return flow.with_options(overrides), optimization


def applied(optimization: Optimization, kind: str) -> list[Any]:
    """The values of the applied decisions of ``kind``."""
    return [d.value for d in optimization.decisions if d.kind == kind and d.applied]


# --- handlers -----------------------------------------------------------------------


def seeded(*parts: Any) -> random.Random:
    """An RNG for one call: the same parts give the same draws in every run."""
    return random.Random(":".join(str(p) for p in (SEED, *parts)))


HANG_SHARE = 0.05
HANG_SECONDS = 30.0
CALL_MEDIAN = 0.02
CALL_SIGMA = 0.5


def meant_to_hang(i: int, attempt: int) -> bool:
    """Whether call ``i`` hangs on this attempt: 5 % of first attempts (a retry
    does not hang, so the run completes and each hung call is timed out once)."""
    return attempt == 1 and seeded("hang", i).random() < HANG_SHARE


async def hanging_call(i: int, ctx: TaskContext) -> int:
    """Hangs (30 s) when meant to, else sleeps a lognormal time (median 20 ms)."""
    if meant_to_hang(i, ctx.attempt):
        await asyncio.sleep(HANG_SECONDS)
    rng = seeded("call", i, ctx.attempt)
    await asyncio.sleep(CALL_MEDIAN * math.exp(rng.gauss(0.0, CALL_SIGMA)))
    return i


FAILURE_SHARE = 0.05  # of calls failing deterministically; as many fail transiently


def failure_kinds(calls: int) -> dict[int, str]:
    """Call index -> "deterministic" or "transient" (the others succeed): a seeded
    draw of FAILURE_SHARE of the calls for each."""
    count = round(calls * FAILURE_SHARE)
    chosen = seeded("failures").sample(range(calls), 2 * count)
    return {i: "deterministic" if n < count else "transient" for n, i in enumerate(chosen)}


async def picky_call(inp: dict[str, Any], ctx: TaskContext) -> int:
    """A call that fails always on bad input (ValueError), fails on its first
    attempt only when transient (ConnectionError), and else takes 5 ms."""
    call = inp["run"]
    if call["kind"] == "deterministic":
        raise ValueError(f"bad input {call['i']}: the amount must be positive")
    if call["kind"] == "transient" and ctx.attempt == 1:
        raise ConnectionError(f"connection reset by peer (call {call['i']})")
    await asyncio.sleep(0.005)
    return int(call["i"])


def sleeper(seconds: float, jitter: float = 0.0) -> Callable[..., Any]:
    """A handler that sleeps ``seconds`` (times a lognormal factor of sigma
    ``jitter``, seeded by the run input's ``dag`` and the step)."""

    async def sleep(inp: Any, ctx: TaskContext) -> float:
        factor = 1.0
        if jitter:
            dag = inp.get("run", {}).get("dag") if isinstance(inp, dict) else None
            factor = math.exp(seeded("sleep", dag, ctx.step, ctx.task_index).gauss(0.0, jitter))
        await asyncio.sleep(seconds * factor)
        return seconds * factor

    return sleep


class Contended:
    """A service whose throughput collapses above ``knee`` concurrent calls:
    a call's service time is ``base * (1 + max(0, inflight - knee) ** 2 * c)``,
    ``inflight`` being the calls in flight (itself included) when it starts."""

    def __init__(self, base: float = 0.02, knee: int = 4, c: float = 0.1) -> None:
        self.base, self.knee, self.c = base, knee, c
        self.inflight = 0

    def service_time(self, inflight: int) -> float:
        """Seconds of a call that starts with ``inflight`` calls in flight."""
        return self.base * (1.0 + max(0, inflight - self.knee) ** 2 * self.c)

    def throughput(self, inflight: int) -> float:
        """Calls per second with ``inflight`` calls always running (the model's)."""
        return inflight / self.service_time(inflight)

    async def __call__(self, i: int) -> int:
        self.inflight += 1
        try:
            await asyncio.sleep(self.service_time(self.inflight))
        finally:
            self.inflight -= 1
        return i


class SometimesSlow:
    """An idempotent call (it only sleeps): median 20 ms, and 3 % of executions
    10 x slower. Whether an execution is slow is seeded by the call and how many
    executions of it this process started before (shared by the workers of the
    process), so that a hedged second execution of a slow call is usually fast."""

    def __init__(self, slow_share: float = 0.03, factor: float = 10.0) -> None:
        self.slow_share, self.factor = slow_share, factor
        self.executions: dict[int, int] = {}

    async def __call__(self, i: int) -> int:
        nth = self.executions.get(i, 0)
        self.executions[i] = nth + 1
        rng = seeded("slow", i, nth)
        seconds = CALL_MEDIAN * math.exp(rng.gauss(0.0, 0.2))
        await asyncio.sleep(seconds * (self.factor if rng.random() < self.slow_share else 1.0))
        return i
