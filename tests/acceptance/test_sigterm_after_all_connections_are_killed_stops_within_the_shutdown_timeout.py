"""Every connection of a worker process is killed while it runs a task that
outlasts --shutdown-timeout, then it gets SIGTERM: it exits within the timeout
plus a second or two, having released the task and marked itself stopped (its
shutdown retries those writes, each bounded in time, and the pool replaces its
dead connections at once). Another worker then runs the task long before its
lease would have expired. Before the fix such a worker, its pool grown by
handlers that use the database, took over 20 s to exit and was not marked
stopped."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import pytest
from _acceptance import (
    WorkerProcesses,
    assert_each_task_completed_once,
    kill_sessions,
    query,
    tasks_of,
    wait_until,
)
from handlers_busy import SLEEP_VARIABLE, busy_flow, busy_input, busy_output, linger_flow

import htdag

pytestmark = pytest.mark.acceptance

APP = "htdag-worker-stopping"
SLOTS = 8
SHUTDOWN_TIMEOUT = 5.0
LEASE = 20.0  # longer than the test waits: only a release lets another worker in


def stopped_at(dsn: str, worker_id: uuid.UUID) -> object:
    return query(dsn, "select stopped_at from htdag.workers where worker_id = %s",
                 (worker_id,))[0]["stopped_at"]


def test_a_worker_whose_connections_were_killed_stops_in_time(dsn: str, tmp_path: Path
                                                              ) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    engine = htdag.connect(dsn)
    try:
        with WorkerProcesses(dsn, tmp_path) as workers:
            # The task would run 30 s; the worker gives it SHUTDOWN_TIMEOUT after SIGTERM.
            first = workers.start("handlers_busy.py", name="stopping", concurrency=SLOTS,
                                  lease=LEASE, shutdown_timeout=SHUTDOWN_TIMEOUT,
                                  env={SLEEP_VARIABLE: "30", "PGAPPNAME": APP})
            first_id = first.wait_registered()
            # Handlers holding pooled connections grow the worker's pool to its slots.
            busy = engine.start(busy_flow, busy_input(2 * SLOTS, hold=0.3))
            assert busy.wait(timeout=20) == {"busy_total": busy_output(2 * SLOTS)}
            run = engine.start(linger_flow, [{"x": 4, "marker_dir": str(markers)}])
            wait_until(lambda: list(markers.glob("started-linger-0-*")), 20,
                       "the worker to enter the task")
            time.sleep(2.2)  # past the pool's idle check (2 s): its connections get pinged

            assert len(kill_sessions(dsn, APP)) >= SLOTS
            signalled = time.monotonic()
            first.signal(signal.SIGTERM)
            assert first.wait_exit(SHUTDOWN_TIMEOUT + 30) == 0
            took = time.monotonic() - signalled
            assert took < SHUTDOWN_TIMEOUT + 2, f"the worker took {took:.1f}s to exit"

            assert stopped_at(dsn, first_id) is not None
            task = tasks_of(dsn, [run.run_id])[0]
            assert (task["status"], task["worker_id"]) == ("queued", None), task

            second = workers.start("handlers_busy.py", name="successor", concurrency=2,
                                   lease=LEASE, env={SLEEP_VARIABLE: "0"})
            second_id = second.wait_registered()
            started = time.monotonic()
            assert run.wait(timeout=30) == {"linger_total": 40}
            assert time.monotonic() - started < 8
        tasks = assert_each_task_completed_once(dsn, [run.run_id], expected_tasks=2)
        assert {t["worker_id"] for t in tasks} == {second_id}
    finally:
        engine.close()
