"""The concurrency part of benchmarks/optimizer.py (see its docstring): a
contended handler fed without end, windows of throughput at a limit, and the
limit ``Optimizer.atune`` learns window after window."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import uuid
from collections.abc import Callable

import _optimizer_workloads as w

import htdag
from htdag.core.definitions import Flow
from htdag.core.engine import AsyncEngine
from htdag.optimizer import Optimizer

HANDLER = "bench.contended"
CONTENDED = w.Contended()
#: Learning from no limit; the sweep and the final windows run on it too.
KEY = "bench.contended"
#: Learning from a limit of 1 (its own key, so its own history): a note on stderr.
KEY_FROM_ONE = "bench.contended_from_1"
WINDOW = 2.0
MAX_WINDOWS = 10
STATIC_LIMITS = (1, 2, 4, 8, 16, 32)
QUEUED = 200  # a key's queue is kept between this and twice this


class Backlog:
    """Runs of the contended handler's map step under ``key``, started in the
    background so that the key's queue never runs out but stays short;
    cancelled at the end."""

    def __init__(self, engine: AsyncEngine, key: str) -> None:
        self.engine, self.key = engine, key
        self.flow = Flow(f"bench.optimizer.{key}")
        self.flow.add_step("call", HANDLER, map=True, concurrency_key=key, max_attempts=1)
        self.runs: list[uuid.UUID] = []
        self.feeding: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Backlog:
        self.feeding = asyncio.create_task(self._feed())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.feeding is not None:
            self.feeding.cancel()
            await asyncio.wait((self.feeding,))
        for run_id in self.runs:
            with contextlib.suppress(htdag.HtdagError):
                await self.engine.cancel(run_id)

    async def _feed(self) -> None:
        while True:
            queued = await self.engine.store.db.value(
                "select count(*) from htdag.tasks where status = 'queued'"
                " and concurrency_key = %s", (self.key,))
            if queued < QUEUED:
                self.runs += await w.start_runs(self.engine, self.flow, [list(range(QUEUED))])
            await asyncio.sleep(0.1)


async def window(engine: AsyncEngine, key: str, limit: int | None) -> float:
    """Completed attempts of ``key`` per second over a window at ``limit`` (set
    first; the calls in flight above it are let finish, up to 3 s, before)."""
    if (await engine.concurrency_limits()).get(key) != limit:
        await engine.set_concurrency_limit(key, limit)
    for _ in range(150):
        if limit is None or CONTENDED.inflight <= limit:
            break
        await asyncio.sleep(0.02)
    db = engine.store.db
    started = await db.value("select clock_timestamp()")
    await asyncio.sleep(WINDOW)
    ended = await db.value("select clock_timestamp()")
    done = await db.value(
        "select count(*) from htdag.attempts where concurrency_key = %s and outcome = 'completed'"
        " and finished_at >= %s and finished_at < %s", (key, started, ended))
    seconds: float = (ended - started).total_seconds()
    return float(done) / seconds


async def learn_limit(engine: AsyncEngine, key: str, start: int | None, note: w.Note
                      ) -> tuple[int, int]:
    """From ``start``, windows of work each followed by atune on ``key``, until
    two windows in a row leave the limit as it is (at most MAX_WINDOWS): the
    learned limit and the windows used."""
    optimizer = Optimizer(engine, level="advanced")
    await engine.set_concurrency_limit(key, start)
    limit, unchanged, used = start, 0, 0
    async with Backlog(engine, key):
        while used < MAX_WINDOWS and unchanged < 2:
            used += 1
            rate = await window(engine, key, limit)
            [decision] = await optimizer.atune(engine, keys=[key])
            learned = (await engine.concurrency_limits()).get(key)
            note(f"  window {used}: limit {limit}, {rate:.1f}/s -> {learned} ({decision.reason})")
            unchanged = unchanged + 1 if learned == limit and learned is not None else 0
            limit = learned
    if limit is None:
        raise w.BenchmarkFailed(f"the optimizer set no limit on {key} in {used} windows")
    return limit, used


async def concurrency(engine: AsyncEngine, figure: Callable[[str, float | int, str], None],
                      note: w.Note) -> None:
    """``concurrency_throughput_ratio`` and ``concurrency_learned_limit`` (see
    benchmarks/optimizer.py), every window on stderr."""
    note("concurrency: learning from no limit")
    learned, used = await learn_limit(engine, KEY, None, note)
    note("concurrency: learning from a limit of 1 (its own key)")
    from_one, used_from_one = await learn_limit(engine, KEY_FROM_ONE, 1, note)
    rates: dict[str, list[float]] = {"learned": [], "best": [], "from_one": []}
    async with Backlog(engine, KEY):
        sweep = {limit: await window(engine, KEY, limit) for limit in STATIC_LIMITS}
        best = max(sweep, key=lambda limit: sweep[limit])
        note("  static sweep: " + ", ".join(f"{k}: {v:.1f}/s" for k, v in sweep.items()))
        limits = {"learned": learned, "best": best, "from_one": from_one}
        for name in ("learned", "best", "from_one", "from_one", "best", "learned"):
            rates[name].append(await window(engine, KEY, limits[name]))
    for key in (KEY, KEY_FROM_ONE):  # later claims need not check limits
        await engine.set_concurrency_limit(key, None)
    mean = {name: statistics.mean(values) for name, values in rates.items()}
    note(f"concurrency: learned limit {learned} in {used} windows ({mean['learned']:.1f}/s), "
         f"best static {best} ({mean['best']:.1f}/s); learned from 1: {from_one} in "
         f"{used_from_one} windows ({mean['from_one']:.1f}/s, ratio "
         f"{mean['from_one'] / mean['best']:.3f}); the model's peak (handler in flight) is at "
         f"{max(range(1, 33), key=CONTENDED.throughput)}")
    figure("concurrency_throughput_ratio", mean["learned"] / mean["best"], "ratio")
    figure("concurrency_learned_limit", learned, "tasks")
