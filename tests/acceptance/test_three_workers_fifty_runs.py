"""Three worker processes share fifty runs of a flow with a map step and a
fan-in: every run completes with its own correct output, every task runs to
completion exactly once, and the work is spread over the workers."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from _acceptance import (
    WorkerProcesses,
    assert_each_task_completed_once,
    query,
    wait_runs_finished,
)
from handlers_map import expected_output, map_flow

import htdag

pytestmark = pytest.mark.acceptance

RUNS = 50
ELEMENTS = 10
TASKS_PER_RUN = 1 + ELEMENTS + 1  # gen, square x ELEMENTS, total


def test_three_workers_complete_fifty_map_runs_exactly_once(dsn: str, tmp_path: Path) -> None:
    engine = htdag.connect(dsn)
    try:
        with WorkerProcesses(dsn, tmp_path) as workers:
            procs = [workers.start("handlers_map.py", concurrency=4, lease=5) for _ in range(3)]
            worker_ids = {p.wait_registered() for p in procs}

            # A short pause in each map task, so one worker cannot drain the queue alone.
            bases = [i * 1000 for i in range(RUNS)]
            run_ids = [engine.start(map_flow, {"base": b, "n": ELEMENTS, "pause": 0.01}).run_id
                       for b in bases]

            runs = wait_runs_finished(dsn, run_ids, timeout=60)
            for run_id, base in zip(run_ids, bases, strict=True):
                run = runs[run_id]
                assert run["status"] == "completed", run
                assert run["output"] == expected_output(base, ELEMENTS), run

            workers.stop_all()
            assert [p.popen.returncode for p in procs] == [0, 0, 0]

        tasks = assert_each_task_completed_once(dsn, run_ids, expected_tasks=RUNS * TASKS_PER_RUN)
        per_step = collections.Counter(t["step_name"] for t in tasks)
        assert per_step == {"gen": RUNS, "square": RUNS * ELEMENTS, "total": RUNS}
        # Nothing was retried: no lease ran out, no handler failed.
        retried = [t for t in tasks if t["attempts_count"] != 1]
        assert not retried, retried[:5]

        per_worker = collections.Counter(t["worker_id"] for t in tasks)
        print("tasks per worker:", sorted(per_worker.values()))
        assert set(per_worker) <= worker_ids
        assert len(per_worker) > 1, f"one worker did all the work: {per_worker}"

        rows = query(dsn, "select worker_id, stopped_at from htdag.workers")
        assert {r["worker_id"] for r in rows} == worker_ids
        assert all(r["stopped_at"] is not None for r in rows), rows
    finally:
        engine.close()
