"""SIGTERM stops a worker process gracefully: it stops claiming, finishes the
task it is running (or, past --shutdown-timeout, gives it back), marks itself
stopped in htdag.workers and exits 0. Another worker then does the rest."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from _acceptance import (
    WorkerProcesses,
    assert_each_task_completed_once,
    attempts_of,
    query,
    tasks_of,
    wait_until,
)
from handlers_slow import SLEEP_VARIABLE, apair_flow, pair_flow

import htdag

pytestmark = pytest.mark.acceptance


def _worker_row(dsn: str, worker_id: uuid.UUID) -> dict[str, Any]:
    return query(dsn, "select * from htdag.workers where worker_id = %s", (worker_id,))[0]


def test_sigterm_finishes_the_running_task_and_claims_no_more(dsn: str, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    engine = htdag.connect(dsn)
    try:
        with WorkerProcesses(dsn, tmp_path) as workers:
            # One slot: the second task stays queued while the first one runs.
            first = workers.start("handlers_slow.py", name="stopping", concurrency=1,
                                  shutdown_timeout=30, env={SLEEP_VARIABLE: "1.5"})
            first_id = first.wait_registered()
            items = [{"x": 1, "marker_dir": str(markers)}, {"x": 2, "marker_dir": str(markers)}]
            run = engine.start(pair_flow, items)
            wait_until(lambda: list(markers.glob("started-work-0-*")), 20,
                       "the worker to enter the first task")

            signalled = time.monotonic()
            first.signal(signal.SIGTERM)
            assert first.wait_exit(20) == 0
            # It waited for the handler (1.5 s) instead of dropping it.
            assert time.monotonic() - signalled > 0.5

            by_index = {t["task_index"]: t for t in tasks_of(dsn, [run.run_id])
                        if t["step_name"] == "work"}
            assert by_index[0]["status"] == "completed"
            assert by_index[0]["worker_id"] == first_id
            assert by_index[1]["status"] == "queued", "a stopping worker claimed a task"
            assert by_index[1]["attempts_count"] == 0
            assert _worker_row(dsn, first_id)["stopped_at"] is not None
            assert "stopped: 1 completed, 0 failed" in first.log()

            second = workers.start("handlers_slow.py", name="successor", concurrency=1,
                                   env={SLEEP_VARIABLE: "0"})
            second_id = second.wait_registered()
            assert run.wait(timeout=30) == {"pair_total": 30}

        assert sorted(p.name for p in markers.iterdir()) == [
            f"started-work-0-attempt1-pid{first.pid}",
            f"started-work-1-attempt1-pid{second.pid}",
        ]
        assert_each_task_completed_once(dsn, [run.run_id], expected_tasks=3)
        attempts = [(a["step_name"], a["attempt"], a["outcome"], a["worker_id"])
                    for a in attempts_of(dsn, [run.run_id])]
        assert sorted(attempts, key=str) == sorted([
            ("work", 1, "completed", first_id),
            ("work", 1, "completed", second_id),
            ("pair_total", 1, "completed", second_id),
        ], key=str)
    finally:
        engine.close()


# A sync handler runs in a thread that cannot be interrupted: the worker releases
# its task and must still exit at once (the thread must not keep the process alive).
@pytest.mark.parametrize("flow", [apair_flow, pair_flow], ids=["async", "sync"])
def test_sigterm_releases_a_task_that_outlasts_the_shutdown_timeout(
        dsn: str, tmp_path: Path, flow: htdag.Flow) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    step = flow.steps[0].name
    engine = htdag.connect(dsn)
    try:
        with WorkerProcesses(dsn, tmp_path) as workers:
            # The handler would run 30 s; the worker gives it 1 s after SIGTERM.
            first = workers.start("handlers_slow.py", name="stopping", concurrency=2,
                                  lease=10, shutdown_timeout=1, env={SLEEP_VARIABLE: "30"})
            first_id = first.wait_registered()
            run = engine.start(flow, [{"x": 4, "marker_dir": str(markers)}])
            wait_until(lambda: list(markers.glob(f"started-{step}-0-*")), 20,
                       "the worker to enter the task")

            signalled = time.monotonic()
            first.signal(signal.SIGTERM)
            assert first.wait_exit(6) == 0
            assert time.monotonic() - signalled < 6

            # Released, not failed: queued again at once, the attempt does not count.
            task = tasks_of(dsn, [run.run_id])[0]
            assert (task["status"], task["attempts_count"], task["worker_id"]) == \
                ("queued", 0, None)
            assert _worker_row(dsn, first_id)["stopped_at"] is not None

            # Another worker takes it long before the 10 s lease would have run out.
            second = workers.start("handlers_slow.py", name="successor", concurrency=2,
                                   lease=10, env={SLEEP_VARIABLE: "0"})
            second_id = second.wait_registered()
            started = time.monotonic()
            assert run.wait(timeout=30) == {f"{flow.name.split('.')[1]}_total": 40}
            assert time.monotonic() - started < 8

        tasks = assert_each_task_completed_once(dsn, [run.run_id], expected_tasks=2)
        assert {t["worker_id"] for t in tasks} == {second_id}
        outcomes = [(a["step_name"], a["outcome"], a["worker_id"])
                    for a in attempts_of(dsn, [run.run_id])]
        assert ("lost" not in {o for _, o, _ in outcomes}), outcomes
        assert (step, "completed", second_id) in outcomes
    finally:
        engine.close()
