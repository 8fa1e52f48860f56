"""A worker process is SIGKILLed while it runs a task: its lease runs out, a
second worker claims the task again, and the run completes as if nothing
happened, with the lost attempt on record."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from _acceptance import (
    WorkerProcesses,
    assert_each_task_completed_once,
    attempts_of,
    query,
    wait_until,
)
from handlers_slow import SLEEP_VARIABLE, slow_flow

import htdag

pytestmark = pytest.mark.acceptance

LEASE = 2.0


def test_killed_worker_loses_its_task_to_another_worker(dsn: str, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    engine = htdag.connect(dsn)
    try:
        with WorkerProcesses(dsn, tmp_path) as workers:
            # The first worker would sleep a minute in the handler; it will not get to.
            first = workers.start("handlers_slow.py", name="doomed", concurrency=2, lease=LEASE,
                                  env={SLEEP_VARIABLE: "60"})
            first_id = first.wait_registered()
            run = engine.start(slow_flow, {"x": 21, "marker_dir": str(markers)})

            wait_until(lambda: list(markers.glob("started-slow-0-attempt1-*")), 20,
                       "the first worker to enter the handler")
            task = query(dsn, "select status::text as status, worker_id from htdag.tasks"
                              " where run_id = %s and step_name = 'slow'", (run.run_id,))[0]
            assert task == {"status": "started", "worker_id": first_id}

            first.kill()  # SIGKILL: no shutdown, no release, the lease just stops moving
            killed_at = time.monotonic()

            second = workers.start("handlers_slow.py", name="rescuer", concurrency=2,
                                   lease=LEASE, env={SLEEP_VARIABLE: "0"})
            second_id = second.wait_registered()

            assert run.wait(timeout=30) == {"finish": 43}
            # Not before the lease ran out: nobody may take a task whose lease is alive.
            # (The last heartbeat, every LEASE/3, was at most that long before the kill.)
            assert time.monotonic() - killed_at >= LEASE / 2

            second.signal(signal.SIGTERM)
            assert second.wait_exit(15) == 0

        # The handler was entered twice: once by each worker process.
        assert sorted(p.name for p in markers.iterdir()) == [
            f"started-slow-0-attempt1-pid{first.pid}",
            f"started-slow-0-attempt2-pid{second.pid}",
        ]

        tasks = assert_each_task_completed_once(dsn, [run.run_id], expected_tasks=2)
        by_step = {t["step_name"]: t for t in tasks}
        assert by_step["slow"]["attempts_count"] == 2
        assert by_step["slow"]["worker_id"] == second_id
        assert by_step["finish"]["attempts_count"] == 1

        attempts = [(a["step_name"], a["attempt"], a["outcome"], a["worker_id"])
                    for a in attempts_of(dsn, [run.run_id])]
        assert attempts == [
            ("slow", 1, "lost", first_id),
            ("slow", 2, "completed", second_id),
            ("finish", 1, "completed", second_id),
        ]

        # The killed worker never said goodbye; the rescuer did when it was stopped.
        stopped = {r["worker_id"]: r["stopped_at"] for r in query(
            dsn, "select worker_id, stopped_at from htdag.workers")}
        assert stopped[first_id] is None
        assert stopped[second_id] is not None
    finally:
        engine.close()
