"""Optimizer benchmark: what the step options the optimizer learns from recorded
attempts change on real runs, each figure the ratio of a static policy's cost
over the learned one's, measured in one run of this module.

    .venv/bin/python benchmarks/optimizer.py              # fresh embedded server
    .venv/bin/python benchmarks/optimizer.py --url URL    # another server

``run_all.py`` calls :func:`bench` with its server. Everything runs on a
database of its own (created and dropped here) with in-process workers; the
learned options come from the real ``Optimizer`` reading the attempts the runs
recorded (the flows are handed to it as task graphs, one task per step, and the
options it learns are put on the flows with ``Flow.with_options``). The
handlers decide what they do from their input and attempt with a seeded RNG, so
the benchmark knows which calls were meant to hang, fail or be slow. Figures:

* ``timeout_detect_ratio``: a map step of ``TIMEOUT_CALLS`` calls (max_attempts
  2, no retry delay) whose handler hangs (30 s, cancelled by the timeout) on
  the first attempt of 5 % of the calls and otherwise sleeps a lognormal time
  (median 20 ms, sigma 0.5); its retry does not hang, so each hung call is
  detected once and the run completes. Phase 1 runs it with the static timeout
  (3 s); the Optimizer (level ``basic``) learns the timeout from phase 1's
  attempts; phase 2 runs the same calls with it. The ratio is the mean duration
  of the timed-out attempts (the time to detect a hung call) of phase 1 over
  phase 2's. ``false_timeout_rate``: phase 2's timed-out attempts that were not
  meant to hang, over its completed attempts. ``learned_timeout_s`` is the value.
* ``priority_makespan_ratio``: a graph of ``FAN`` independent 50 ms steps and a
  chain of ``CHAIN`` 50 ms steps, on a worker with ``PRIORITY_SLOTS`` slots. The
  claim takes tasks by (priority, task index, available since), so each chain
  step, ready after the fan-out's steps, queues behind what is left of them
  (the tasks of one map step would not do: its task indexes put every chain
  step, index 0, ahead of them). After ``HISTORY_RUNS`` first-in-first-out runs
  recorded the durations, the Optimizer (level ``advanced``) gives the
  priorities; only those are applied. First-in-first-out and learned runs
  alternate (F L L F ...): the median FIFO makespan (run start to completion,
  the database's clock) over the median learned one.
* ``priority_makespan_ratio_random`` / ``_random_min``: the same over
  ``RANDOM_DAGS`` seeded random graphs (16 to 28 steps, each depending on 0 to 2
  earlier ones, each with one of four handlers of 10, 30, 60 or 120 ms, times a
  seeded lognormal factor of sigma 0.2); the handlers' history is a run of 60
  tasks each, and every run adds to it. Per graph ``RANDOM_REPEATS`` FIFO and as
  many learned runs, alternating (F L L F F L): the ratio of their medians; the
  mean of the graphs' ratios and the worst.
* ``concurrency_throughput_ratio``: a handler whose service time is ``20 ms * (1
  + max(0, inflight - 4) ** 2 * 0.1)`` (``inflight``: its calls in flight when
  one starts), tasks of a map step with a concurrency key, a backlog that never
  runs out (but stays short), a worker with 32 slots. Learning first, on a fresh
  key's history: no limit, then windows of ``WINDOW`` seconds, each followed by
  ``Optimizer(level="advanced").atune`` on the key, until two windows in a row
  leave the limit as it is (at most 10); ``concurrency_learned_limit`` is the
  limit. The same learning from a limit of 1, on a key of its own, goes to
  stderr. Then a sweep of static limits (1, 2, 4, 8, 16, 32), a window each,
  finds the best static one; then the limits are measured again, alternating
  (learned, best, from 1, from 1, best, learned): the ratio is the learned
  limit's mean throughput (completed attempts per second of window) over the
  best static one's. Every window is listed on stderr.
* ``wasted_retry_reduction``: ``RETRY_CALLS`` one-step runs started at once
  (max_attempts 3, no retry delay); a seeded 5 % of the calls fail always
  (ValueError), another 5 % on their first attempt only (ConnectionError), the
  rest take 5 ms. Phase 1 static; the Optimizer (level ``advanced``) learns the
  retry options (fail_fast, max_attempts, retry_budget; only those applied)
  from phase 1's attempts; phase 2 runs the same calls with them. The figure is
  ``1 - retries spent on the always-failing calls in phase 2 / in phase 1``;
  ``transient_recovered_ratio`` the share of the transiently failing calls whose
  run completed in phase 2.
* ``hedge_p99_ratio`` and ``hedge_extra_attempts_ratio`` (only when StepOptions
  has ``hedge_after``): ``HEDGE_CALLS`` calls of an idempotent handler (median
  20 ms, 3 % of executions 10 x slower, a second execution of a call drawn
  anew) arriving as runs of a map step of ``HEDGE_BATCH`` calls every
  ``HEDGE_EVERY`` s, on two in-process workers of 16 slots (a hedge starts in a
  free slot of the worker running the task). Without hedging, then with the hedge delay
  the Optimizer (level ``aggressive``, the handler declared idempotent) learned
  from the first pass's attempts (only ``hedge_after`` applied). The ratio is
  the p99 of task latency (completed minus first started) without over with;
  the extra attempts are the tasks with a hedged attempt (``hedge`` set) over
  the tasks.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
from collections.abc import Callable
from typing import Any

import _optimizer_concurrency as c  # benchmarks/ is on the path (run_all.py, or a script)
import _optimizer_workloads as w

import htdag
from htdag.core.definitions import Flow
from htdag.core.engine import AsyncEngine
from htdag.optimizer import Optimizer

Figure = Callable[[str, float | int, str], None]

TIMEOUT_CALLS = 400
STATIC_TIMEOUT = 3.0
FAN, CHAIN, STEP_SECONDS = 40, 10, 0.05
PRIORITY_SLOTS = 4
HISTORY_RUNS = 5
PRIORITY_ROUNDS = 2  # of F L L F
RANDOM_DAGS, RANDOM_REPEATS = 20, 3
RANDOM_HANDLERS = {"bench.work_10ms": 0.01, "bench.work_30ms": 0.03,
                   "bench.work_60ms": 0.06, "bench.work_120ms": 0.12}
RETRY_CALLS = 300
HEDGE_CALLS, HEDGE_BATCH, HEDGE_EVERY = 600, 10, 0.1

HANDLERS: dict[str, Callable[..., Any]] = {
    "bench.hanging_call": w.hanging_call, "bench.picky_call": w.picky_call,
    "bench.fan_50ms": w.sleeper(STEP_SECONDS), "bench.link_50ms": w.sleeper(STEP_SECONDS),
    c.HANDLER: c.CONTENDED, **{name: w.sleeper(s, 0.2) for name, s in RANDOM_HANDLERS.items()}}


# --- timeouts -------------------------------------------------------------------------


async def timeout_phase(engine: AsyncEngine, flow: Flow) -> tuple[list[float], int, int]:
    """One run of the calls: the durations of the timed-out attempts meant to
    hang, the timed-out attempts not meant to, and the completed attempts."""
    [run_id] = await w.start_runs(engine, flow, [list(range(TIMEOUT_CALLS))])
    if (await w.wait_runs(engine, [run_id], 120))[run_id] != "completed":
        raise w.BenchmarkFailed(f"the timeouts run {run_id} did not complete")
    rows = await w.attempts_of(engine, [run_id])
    timed_out = [r for r in rows if r["outcome"] == "timed_out"]
    hung = [r["duration"] for r in timed_out if w.meant_to_hang(r["task_index"], r["attempt"])]
    completed = sum(1 for r in rows if r["outcome"] == "completed")
    return hung, len(timed_out) - len(hung), completed


async def timeouts(engine: AsyncEngine, figure: Figure, note: w.Note) -> None:
    """``timeout_detect_ratio``, ``false_timeout_rate``, ``learned_timeout_s``."""
    flow = Flow("bench.optimizer.timeouts")
    flow.add_step("call", "bench.hanging_call", map=True, timeout=STATIC_TIMEOUT,
                  max_attempts=2, base_delay=0.0, max_delay=0.0)
    static_hung, static_false, _ = await timeout_phase(engine, flow)
    learned, optimization = await w.learned_flow(Optimizer(engine, level="basic"), engine,
                                                 flow, {"timeout"})
    [timeout] = w.applied(optimization, "timeout") or [None]
    if timeout is None:
        raise w.BenchmarkFailed("the optimizer learned no timeout from phase 1: "
                                + "; ".join(d.reason for d in optimization.decisions))
    learned_hung, false_timeouts, completed = await timeout_phase(engine, learned)
    note(f"timeouts: learned {timeout:.3f} s; hung calls timed out {len(static_hung)} "
         f"(static, mean {statistics.mean(static_hung):.3f} s, {static_false} others) and "
         f"{len(learned_hung)} (learned, mean {statistics.mean(learned_hung):.3f} s, "
         f"{false_timeouts} others of {completed} completed)")
    figure("timeout_detect_ratio", statistics.mean(static_hung) / statistics.mean(learned_hung),
           "ratio")
    figure("false_timeout_rate", false_timeouts / completed, "ratio")
    figure("learned_timeout_s", float(timeout), "s")


# --- priorities -----------------------------------------------------------------------


def fan_and_chain() -> Flow:
    """FAN independent steps and a CHAIN of steps, all of STEP_SECONDS."""
    flow = Flow("bench.optimizer.fan_and_chain")
    for i in range(FAN):
        flow.add_step(f"f{i:02d}", "bench.fan_50ms")
    for k in range(1, CHAIN + 1):
        flow.add_step(f"c{k:02d}", "bench.link_50ms",
                      depends_on=[f"c{k - 1:02d}"] if k > 1 else [])
    return flow


def random_dag(number: int) -> Flow:
    """A seeded random graph: each step depends on 0 to 2 earlier ones."""
    rng = w.seeded("dag", number)
    flow = Flow(f"bench.optimizer.random_{number:02d}")
    names = [f"t{i:02d}" for i in range(rng.randint(16, 28))]
    for j, name in enumerate(names):
        deps = rng.sample(names[:j], min(j, rng.choice((0, 1, 1, 2))))
        flow.add_step(name, rng.choice(sorted(RANDOM_HANDLERS)), depends_on=deps)
    return flow


async def timed_run(engine: AsyncEngine, flow: Flow, dag: int | None = None) -> float:
    """The makespan of one run of ``flow`` (``dag`` seeds its handlers' sleeps)."""
    [run_id] = await w.start_runs(engine, flow, [{"dag": dag}])
    await w.wait_runs(engine, [run_id], 60)
    return await w.makespan(engine, run_id)


async def prioritized(engine: AsyncEngine, flow: Flow, note: w.Note) -> Flow:
    """``flow`` with the priorities the Optimizer (level ``advanced``) learned;
    as it is when it learned none (FIFO, its fallback: said on stderr)."""
    learned, optimization = await w.learned_flow(Optimizer(engine, level="advanced"), engine,
                                                 flow, {"priority"})
    if not w.applied(optimization, "priority"):
        note(f"  {flow.name}: no priorities applied, FIFO kept: " + "; ".join(
            d.reason for d in optimization.decisions if d.kind == "priority"))
    return learned


async def priorities(engine: AsyncEngine, figure: Figure, note: w.Note) -> None:
    """``priority_makespan_ratio`` and the random graphs' two figures."""
    flow = fan_and_chain()
    for _ in range(HISTORY_RUNS):
        await timed_run(engine, flow)
    learned = await prioritized(engine, flow, note)
    fifo: list[float] = []
    best: list[float] = []
    for _ in range(PRIORITY_ROUNDS):
        fifo.append(await timed_run(engine, flow))
        best.extend([await timed_run(engine, learned), await timed_run(engine, learned)])
        fifo.append(await timed_run(engine, flow))
    note("priorities: fan-out and chain makespans FIFO "
         + " ".join(f"{m:.3f}" for m in fifo) + " s, learned " + " ".join(f"{m:.3f}" for m in best)
         + " s")
    figure("priority_makespan_ratio", statistics.median(fifo) / statistics.median(best), "ratio")

    history = Flow("bench.optimizer.history")
    for name in RANDOM_HANDLERS:
        history.add_step(name.removeprefix("bench."), name, map=True)
    await w.wait_runs(engine, await w.start_runs(engine, history, [list(range(60))]), 60)
    ratios = []
    for number in range(RANDOM_DAGS):
        dag = random_dag(number)
        learned = await prioritized(engine, dag, note)
        fifos, bests = [], []
        for repeat in range(RANDOM_REPEATS):  # F L, L F, F L ... (median of each)
            if (number + repeat) % 2:
                bests.append(await timed_run(engine, learned, number))
                fifos.append(await timed_run(engine, dag, number))
            else:
                fifos.append(await timed_run(engine, dag, number))
                bests.append(await timed_run(engine, learned, number))
        fifo_s, best_s = statistics.median(fifos), statistics.median(bests)
        ratios.append(fifo_s / best_s)
        note(f"  random graph {number:2d} ({len(dag.steps)} steps): FIFO {fifo_s:.3f} s, "
             f"learned {best_s:.3f} s, ratio {ratios[-1]:.3f}")
    figure("priority_makespan_ratio_random", statistics.mean(ratios), "ratio")
    figure("priority_makespan_ratio_random_min", min(ratios), "ratio")


# --- retries --------------------------------------------------------------------------


async def retry_phase(engine: AsyncEngine, flow: Flow, kinds: dict[int, str], note: w.Note
                      ) -> tuple[int, int]:
    """One run per call, all at once: the retries spent on the always-failing
    calls, and the transiently failing calls whose run completed (why the
    others failed goes to stderr)."""
    calls = [{"i": i, "kind": kinds.get(i, "ok")} for i in range(RETRY_CALLS)]
    run_ids = await w.start_runs(engine, flow, calls)
    statuses = await w.wait_runs(engine, run_ids, 120)
    rows = await w.attempts_of(engine, run_ids)
    wasted = sum(1 for r in rows
                 if r["attempt"] > 1 and r["run_input"]["kind"] == "deterministic")
    transient = [run_id for run_id, call in zip(run_ids, calls, strict=True)
                 if call["kind"] == "transient"]
    lost = [run_id for run_id in transient if statuses[run_id] != "completed"]
    if lost:
        errors = await engine.store.db.rows(
            "select distinct error->>'message' as message from htdag.runs"
            " where run_id = any(%s)", (lost,))
        note(f"  {len(lost)} transiently failing calls did not complete: "
             + " | ".join(str(e["message"])[:300] for e in errors))
    return wasted, len(transient) - len(lost)


async def retries(engine: AsyncEngine, figure: Figure, note: w.Note) -> None:
    """``wasted_retry_reduction`` and ``transient_recovered_ratio``."""
    flow = Flow("bench.optimizer.retries")
    flow.add_step("call", "bench.picky_call", max_attempts=3, base_delay=0.0, max_delay=0.0)
    kinds = w.failure_kinds(RETRY_CALLS)
    transient = sum(1 for k in kinds.values() if k == "transient")
    static_wasted, static_recovered = await retry_phase(engine, flow, kinds, note)
    learned, _ = await w.learned_flow(
        Optimizer(engine, level="advanced"), engine, flow,
        {"fail_fast", "max_attempts", "retry_budget"})
    learned_wasted, recovered = await retry_phase(engine, learned, kinds, note)
    note(f"retries: {len(kinds) - transient} always-failing and {transient} transient calls of "
         f"{RETRY_CALLS}; retries spent on the always-failing ones {static_wasted} (static) and "
         f"{learned_wasted} (learned: {learned['call'].options.fail_fast}, max_attempts "
         f"{learned['call'].options.max_attempts}, retry_budget "
         f"{learned['call'].options.retry_budget}); transient calls completed "
         f"{static_recovered} (static) and {recovered} (learned)")
    figure("wasted_retry_reduction", 1 - learned_wasted / static_wasted, "ratio")
    figure("transient_recovered_ratio", recovered / transient, "ratio")


# --- hedging --------------------------------------------------------------------------


def hedging_exists() -> bool:
    """Whether this htdag has hedged executions (StepOptions.hedge_after)."""
    from htdag.core.options import StepOptions

    return "hedge_after" in StepOptions.model_fields


async def hedge_phase(engine: AsyncEngine, flow: Flow) -> tuple[list[float], list[float]]:
    """The calls arriving in runs of ``HEDGE_BATCH`` every ``HEDGE_EVERY`` s (the
    workers keep spare slots, as a service's do): each task's latency (completed
    minus its first start) and, for each task with a hedged attempt, how long
    after its start the hedge started."""
    run_ids = []
    for start in range(0, HEDGE_CALLS, HEDGE_BATCH):
        run_ids += await w.start_runs(engine, flow, [list(range(start, start + HEDGE_BATCH))])
        await asyncio.sleep(HEDGE_EVERY)
    statuses = await w.wait_runs(engine, run_ids, 120)
    if any(status != "completed" for status in statuses.values()):
        raise w.BenchmarkFailed("a run of the hedging workload did not complete")
    rows = await engine.store.db.rows(
        "select extract(epoch from t.completed_at - min(a.started_at))::float8 as latency,"
        "       bool_or(a.hedge is not null) as hedged,"
        "       extract(epoch from t.hedge_started_at - min(a.started_at))::float8 as lag"
        " from htdag.tasks t join htdag.attempts a using (task_id)"
        " where t.run_id = any(%s) group by t.task_id", (run_ids,))
    return [r["latency"] for r in rows], [r["lag"] or 0.0 for r in rows if r["hedged"]]


async def hedging(engine: AsyncEngine, figure: Figure, note: w.Note) -> None:
    """``hedge_p99_ratio`` and ``hedge_extra_attempts_ratio``, with two workers
    of its own (the handler counts its executions per call)."""
    from _stats import quantile

    flow = Flow("bench.optimizer.hedging")
    flow.add_step("call", "bench.sometimes_slow", map=True)
    handlers = {"bench.sometimes_slow": w.SometimesSlow()}
    async with w.worker(engine, handlers, 16), w.worker(engine, handlers, 16):
        without, _ = await hedge_phase(engine, flow)
        optimizer = Optimizer(engine, level="aggressive", idempotent={"bench.sometimes_slow"})
        learned, optimization = await w.learned_flow(optimizer, engine, flow, {"hedge_after"})
        [delay] = w.applied(optimization, "hedge") or [None]
        if delay is None:
            raise w.BenchmarkFailed("the optimizer learned no hedge delay: " + "; ".join(
                d.reason for d in optimization.decisions if d.kind == "hedge"))
        latencies, lags = await hedge_phase(engine, learned)
    p99_without, p99_with = quantile(without, 0.99), quantile(latencies, 0.99)
    note(f"hedging: hedge after {delay:.3f} s; p99 {p99_without:.3f} s without, "
         f"{p99_with:.3f} s with; {len(lags)} of {len(latencies)} tasks hedged, their hedge "
         f"started {statistics.median(lags) if lags else 0:.3f} s (median) after the task")
    figure("hedge_p99_ratio", p99_without / p99_with, "ratio")
    figure("hedge_extra_attempts_ratio", len(lags) / len(latencies), "ratio")


# --- running it -----------------------------------------------------------------------


async def measure(url: str, figure: Figure, note: w.Note) -> None:
    """Each part with its worker; a part that cannot run as it needs
    (BenchmarkFailed) says why on stderr and the others go on."""
    import time

    parts: list[tuple[str, int, Callable[..., Any]]] = [
        ("timeouts", 50, timeouts), ("retries", 32, retries),
        ("priorities", PRIORITY_SLOTS, priorities), ("concurrency", 32, c.concurrency)]
    engine = await htdag.aconnect(url)
    try:
        for name, slots, part in parts:
            started = time.perf_counter()
            try:
                async with w.worker(engine, HANDLERS, slots):
                    await part(engine, figure, note)
            except w.BenchmarkFailed as exc:
                note(f"{name}: NOT MEASURED: {exc}")
            note(f"  ({name} took {time.perf_counter() - started:.0f} s)")
        if not hedging_exists():
            note("hedging: skipped, StepOptions has no hedge_after")
            return
        started = time.perf_counter()
        try:
            await hedging(engine, figure, note)
        except w.BenchmarkFailed as exc:
            note(f"hedging: NOT MEASURED: {exc}")
        note(f"  (hedging took {time.perf_counter() - started:.0f} s)")
    finally:
        await engine.close()


def bench(admin_url: str, figure: Figure | None = None, note: w.Note | None = None) -> None:
    """Runs the benchmark in a database of its own on the server of ``admin_url``."""
    import run_all
    from _databases import create_database, drop_database, with_database

    figure = figure or run_all.figure
    note = note or run_all.note
    name = f"htdag_bench_{os.getpid()}_optimizer"
    create_database(admin_url, name)
    try:
        asyncio.run(measure(with_database(admin_url, name), figure, note))
    finally:
        drop_database(admin_url, name)


def main() -> int:
    """Run on its own: ``--url`` or a fresh embedded server (run_all.standalone)."""
    import run_all

    return run_all.standalone(bench, __doc__)


if __name__ == "__main__":
    sys.exit(main())
