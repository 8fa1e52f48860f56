"""Planning benchmark: how close a task graph's makespan comes to its critical path.

    .venv/bin/python benchmarks/planning.py              # fresh embedded server
    .venv/bin/python benchmarks/planning.py --url URL    # another server

``run_all.py`` calls :func:`bench` with its server. Figures (``name value unit``
on stdout, notes on stderr):

* ``critical_path_ms``: the longest path of handler durations through a generated
  DAG of ``TASKS`` sleep tasks (durations 20-200 ms, layers of ``WIDTH`` tasks, each
  task depending on 1-3 tasks of the layer before; seed ``SEED``): the lower bound
  of any schedule's makespan.
* ``makespan_ms``: wall time of ``compose_from_task_graph`` on that graph (build,
  start, run, see it completed) with the in-process worker it starts (``SLOTS``
  slots, more than the graph's width), already warm: median of ``REPEATS`` runs.
* ``makespan_ratio_vs_critical_path``: the one over the other (target <= 1.15).
* ``speedup_vs_sequential``: the same graph on a worker with one slot (so one task at
  a time), over ``makespan_ms``.

Each run is also timed by the database (run started_at to completed_at), and the
time a ready task waited for a worker is reported on stderr, to tell dispatch
overhead from the graph's own shape.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import htdag
from htdag import Planner
from htdag.core.context import TaskContext
from htdag.handlers import HandlerRegistry

SEED = 20261122
TASKS = 60
WIDTH = 10
MIN_MS, MAX_MS = 20, 200
SLOTS = 16
REPEATS = 3

registry = HandlerRegistry()
# (run id, task id) -> perf_counter at the handler's start and end (in-process workers)
SPANS: dict[tuple[Any, str], tuple[float, float]] = {}


@registry.handler("bench.sleep", description="Sleeps for ms milliseconds.")
async def sleep(ms: int, ctx: TaskContext) -> int:
    started = time.perf_counter()
    await asyncio.sleep(ms / 1000)
    SPANS[(ctx.run_id, ctx.step)] = (started, time.perf_counter())
    return ms


planner = Planner(handlers=registry)


def make_graph(seed: int = SEED, tasks: int = TASKS, width: int = WIDTH
               ) -> tuple[dict[str, Any], dict[str, int]]:
    """A layered random DAG of sleep tasks, and each task's duration (ms)."""
    rng = random.Random(seed)
    durations: dict[str, int] = {}
    specs: list[dict[str, Any]] = []
    previous: list[str] = []
    for i in range(tasks):
        layer = i // width
        task_id = f"t{i:02d}"
        durations[task_id] = rng.randint(MIN_MS, MAX_MS)
        deps = sorted(rng.sample(previous, k=min(len(previous), rng.randint(1, 3))))
        specs.append({"id": task_id, "handler": "bench.sleep",
                      "params": {"ms": durations[task_id]}, "depends_on": deps})
        if (i + 1) % width == 0 or i == tasks - 1:
            previous = [f"t{j:02d}" for j in range(layer * width, i + 1)]
    return {"goal": "benchmark: sleep DAG", "tasks": specs}, durations


def critical_path(graph: dict[str, Any], durations: dict[str, int]) -> tuple[int, list[str]]:
    """The longest path by duration: (its length in ms, its task ids)."""
    finish: dict[str, int] = {}
    via: dict[str, str | None] = {}
    for task in graph["tasks"]:  # listed in topological order
        best = max(task["depends_on"], key=lambda d: finish[d], default=None)
        finish[task["id"]] = durations[task["id"]] + (finish[best] if best else 0)
        via[task["id"]] = best
    end: str | None = max(finish, key=lambda t: finish[t])
    path: list[str] = []
    while end is not None:
        path.append(end)
        end = via[end]
    return max(finish.values()), path[::-1]


def _breakdown(graph: dict[str, Any], run_id: Any, t0: float, t1: float
               ) -> dict[str, float]:
    """Where the wall time went, from the handlers' own start and end times: the
    gap from a task's last dependency ending to the task starting (dispatch), the
    handler's overrun of its sleep, and the time before the first start and after
    the last end. Along the path that decided the makespan."""
    spans = {t["id"]: SPANS[(run_id, t["id"])] for t in graph["tasks"]}
    deps = {t["id"]: t["depends_on"] for t in graph["tasks"]}
    gaps = [spans[t][0] - max(spans[d][1] for d in deps[t]) for t in deps if deps[t]]
    # Walk back from the task that ended last, through the dependency that ended last.
    task: str | None = max(spans, key=lambda t: spans[t][1])
    dispatch = overrun = 0.0
    first = 0.0
    while task is not None:
        ms = next(x["params"]["ms"] for x in graph["tasks"] if x["id"] == task)
        overrun += spans[task][1] - spans[task][0] - ms / 1000
        before = max(deps[task], key=lambda d: spans[d][1], default=None)
        if before is None:
            first = spans[task][0] - t0
        else:
            dispatch += spans[task][0] - spans[before][1]
        task = before
    last_end = max(end for _, end in spans.values())
    return {"start_ms": first * 1000, "dispatch_ms": dispatch * 1000,
            "overrun_ms": overrun * 1000, "finish_ms": (t1 - last_end) * 1000,
            "gap_mean_ms": statistics.fmean(gaps) * 1000, "gap_max_ms": max(gaps) * 1000}


def _compose(engine: htdag.Engine, graph: dict[str, Any], **options: Any
             ) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    result = planner.compose_graph(graph, engine=engine, timeout=120, **options)
    ended = time.perf_counter()
    expected = {t["id"]: t["params"]["ms"] for t in graph["tasks"]}
    leaves = {k: v for k, v in expected.items()
              if not any(k in t["depends_on"] for t in graph["tasks"])}
    if result.output != leaves:
        raise RuntimeError(f"wrong output: {result.output!r}")
    run = engine.status(result.run_id).run
    assert run.completed_at is not None
    db_ms = (run.completed_at - run.started_at).total_seconds() * 1000
    return (ended - started) * 1000, {"db_ms": db_ms,
                                      **_breakdown(graph, result.run_id, started, ended)}


def bench(admin_url: str, figure: Callable[[str, float | int, str], None] | None = None,
          note: Callable[..., None] | None = None) -> None:
    """Runs the benchmark in a database of its own on the server of ``admin_url``."""
    import run_all  # the helpers (databases, figure and note formats)

    figure = figure or run_all.figure
    note = note or run_all.note
    name = f"htdag_bench_{os.getpid()}_planning"
    url = run_all.with_database(admin_url, name)
    run_all.create_database(admin_url, name)
    try:
        measure(url, figure, note)
    finally:
        run_all.drop_database(admin_url, name)


def measure(url: str, figure: Callable[[str, float | int, str], None],
            note: Callable[..., None]) -> None:
    graph, durations = make_graph()
    cp_ms, path = critical_path(graph, durations)
    total_ms = sum(durations.values())
    note(f"planning: {len(durations)} sleep tasks in layers of {WIDTH}, {total_ms} ms of "
         f"work, critical path {cp_ms} ms through {len(path)} tasks ({' -> '.join(path)})")

    # Parallel: the in-process worker compose starts (SLOTS slots, > the width).
    engine = htdag.connect(url)
    try:
        from htdag.core._portal import portal

        portal().call(planner.ensure_worker(engine.aio, concurrency=SLOTS))
        _compose(engine, graph)  # warm-up: stores the flow, warms connections
        runs = [_compose(engine, graph) for _ in range(REPEATS)]
    finally:
        engine.close()
    for n, (ms, t) in enumerate(runs, 1):
        note(f"planning: parallel run {n}: {ms:.0f} ms wall ({ms / cp_ms:.3f} x critical "
             f"path; run row {t['db_ms']:.0f} ms); along the deciding path: first start "
             f"{t['start_ms']:.1f} ms, dispatch gaps {t['dispatch_ms']:.1f} ms, sleep "
             f"overrun {t['overrun_ms']:.1f} ms, after the last end {t['finish_ms']:.1f} "
             f"ms; all edges: gap mean {t['gap_mean_ms']:.1f} ms, max "
             f"{t['gap_max_ms']:.1f} ms")
    makespan = statistics.median(ms for ms, _ in runs)

    # Sequential: one worker with one slot serves the same graph.
    engine = htdag.connect(url)
    try:
        with engine.start_worker(planner.worker_handlers(), concurrency=1):
            sequential, _ = _compose(engine, graph, start_worker=False)
    finally:
        engine.close()
    note(f"planning: sequential run (1 slot): {sequential:.0f} ms wall ({total_ms} ms of "
         f"work, {(sequential - total_ms) / len(durations):.1f} ms overhead per task)")

    figure("critical_path_ms", cp_ms, "ms")
    figure("makespan_ms", makespan, "ms")
    figure("makespan_ratio_vs_critical_path", makespan / cp_ms, "ratio")
    figure("speedup_vs_sequential", sequential / makespan, "ratio")


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run_all

    return run_all.standalone(bench, __doc__)


if __name__ == "__main__":
    sys.exit(main())
