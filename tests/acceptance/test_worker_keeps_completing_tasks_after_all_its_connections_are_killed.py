"""Every connection of a worker process (its exchange connection, its pool, its
LISTEN connection) is killed with pg_terminate_backend: the worker completes
tasks again within about a second and listens again, and its runs complete with
every task completed once. Killed in the middle of a run, and after its pool
grew (handlers that use the database) and sat idle: before the fix the pool
then pinged its dead connections one by one, backing off 1, 2, 4, 8 s between
them, and the worker completed nothing for up to 30 s."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from _acceptance import (
    WorkerProcesses,
    assert_each_task_completed_once,
    kill_sessions,
    listening,
    query,
    wait_runs_finished,
    wait_until,
)
from handlers_busy import busy_flow, busy_input, busy_output, quick_flow
from handlers_map import expected_output, map_flow

import htdag

pytestmark = pytest.mark.acceptance

APP = "htdag-worker-under-test"  # PGAPPNAME of the worker: its sessions, and only them
ELEMENTS = 300
PAUSE = 0.05  # seconds per map task: 300 over 4 slots take about 4 s
BOUND = 1.5  # seconds; up to 30 before the fix


def completed_squares(dsn: str, run_id: uuid.UUID) -> int:
    rows = query(dsn, "select count(*) as n from htdag.tasks"
                      " where run_id = %s and step_name = 'square' and status = 'completed'",
                 (run_id,))
    return int(rows[0]["n"])


def test_a_worker_killed_mid_run_goes_on_at_once(dsn: str, tmp_path: Path
                                                                    ) -> None:
    engine = htdag.connect(dsn)
    try:
        with WorkerProcesses(dsn, tmp_path) as workers:
            worker = workers.start("handlers_map.py", concurrency=4, lease=5,
                                   env={"PGAPPNAME": APP})
            worker.wait_registered()
            run = engine.start(map_flow, {"base": 3, "n": ELEMENTS, "pause": PAUSE})
            wait_until(lambda: completed_squares(dsn, run.run_id) >= 40, 20,
                       "the worker to complete some map tasks")
            wait_until(lambda: listening(dsn, APP), 5, "the worker to listen")

            killed = kill_sessions(dsn, APP)
            ended = time.monotonic()
            # The exchange connection, the pool's (heartbeats) and the LISTEN one.
            assert len(killed) >= 3, killed
            assert any(q.lower().startswith("listen") for q in killed), killed
            at_kill = completed_squares(dsn, run.run_id)
            assert at_kill < ELEMENTS * 0.8, "the run was nearly done before the kill"

            # Tasks claimed after the kill complete: twice the slots, more than were running.
            wait_until(lambda: completed_squares(dsn, run.run_id) >= at_kill + 8, 30,
                       "the worker to complete tasks again")
            elapsed = time.monotonic() - ended
            assert elapsed < BOUND, f"the worker completed nothing for {elapsed:.1f}s"
            wait_until(lambda: listening(dsn, APP), BOUND, "the worker to listen again")
            assert worker.alive()

            runs = wait_runs_finished(dsn, [run.run_id], timeout=30)
            assert runs[run.run_id]["status"] == "completed", runs
            assert runs[run.run_id]["output"] == expected_output(3, ELEMENTS)
            workers.stop_all()
            assert worker.popen.returncode == 0
        assert_each_task_completed_once(dsn, [run.run_id], expected_tasks=ELEMENTS + 2)
    finally:
        engine.close()


def test_a_worker_whose_idle_pool_was_killed_takes_new_work_at_once(dsn: str, tmp_path: Path
                                                                   ) -> None:
    slots = 8
    engine = htdag.connect(dsn)
    try:
        with WorkerProcesses(dsn, tmp_path) as workers:
            worker = workers.start("handlers_busy.py", concurrency=slots, lease=5,
                                   env={"PGAPPNAME": APP})
            worker.wait_registered()
            # Each handler holds a pooled connection a while: the pool grows to the slots.
            first = engine.start(busy_flow, busy_input(2 * slots, hold=0.3))
            assert first.wait(timeout=20) == {"busy_total": busy_output(2 * slots)}
            time.sleep(2.5)  # past the pool's idle check (2 s): its connections get pinged

            killed = kill_sessions(dsn, APP)
            ended = time.monotonic()
            assert len(killed) >= slots, killed
            assert any(q.lower().startswith("listen") for q in killed), killed
            # Its handlers use no connection: the worker's own calls meet the dead ones.
            second = engine.start(quick_flow, busy_input(2 * slots, hold=0))
            assert second.wait(timeout=40) == {"quick_total": busy_output(2 * slots)}
            elapsed = time.monotonic() - ended
            print(f"killed {len(killed)} sessions; the run took {elapsed:.2f}s after")
            assert elapsed < BOUND, f"the run took {elapsed:.1f}s after the kill"
            wait_until(lambda: listening(dsn, APP), BOUND, "the worker to listen again")
            workers.stop_all()
            assert worker.popen.returncode == 0
        assert_each_task_completed_once(dsn, [first.run_id, second.run_id],
                                        expected_tasks=2 * (2 * slots + 1))
    finally:
        engine.close()
