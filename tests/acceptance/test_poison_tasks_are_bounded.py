"""Poison tasks in real worker processes (``htdag worker``).

* A handler raising SystemExit, KeyboardInterrupt or a custom BaseException
  subclass, sync or async, fails its attempt with the exception recorded; the
  worker process lives on, runs the next run, and still stops gracefully on a
  real SIGINT.
* A handler that kills its worker process is retried within max_attempts, by
  whichever worker comes next, then fails with an error saying the worker died
  or went silent, and how many times: a supervisor restarting dead workers
  stops dying once the task has failed."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import pytest
from _acceptance import WorkerProcesses, attempts_of, query, wait_runs_finished, wait_until
from handlers_raising import DESCRIBED, dies_flow, fine_flow, raising_flows

import htdag
import htdag.errors

pytestmark = pytest.mark.acceptance

LEASE = 1.0


def test_a_handler_raising_exits_fails_its_attempt_and_the_worker_process_lives_on(
        dsn: str, tmp_path: Path) -> None:
    engine = htdag.connect(dsn)
    try:
        with WorkerProcesses(dsn, tmp_path) as workers:
            worker = workers.start("handlers_raising.py", concurrency=4, lease=5.0)
            worker_id = worker.wait_registered()
            runs = {key: engine.start(flow) for key, flow in raising_flows.items()}
            finished = wait_runs_finished(dsn, [r.run_id for r in runs.values()], timeout=30)

            assert worker.alive(), f"the worker died:\n{worker.log()}"
            for (kind, form), run in runs.items():
                row = finished[run.run_id]
                assert row["status"] == "failed", (kind, form, row)
                assert row["error"]["message"] == f"{DESCRIBED[kind]} (attempt 2 of 2)"
                attempts = [(a["attempt"], a["outcome"], a["error"], a["worker_id"])
                            for a in attempts_of(dsn, [run.run_id])]
                assert attempts == [(1, "failed", DESCRIBED[kind], worker_id),
                                    (2, "failed", DESCRIBED[kind], worker_id)], (kind, form)

            assert engine.start(fine_flow, 7).wait(timeout=20)["fine"]["pid"] == worker.pid

            # A real SIGINT still stops the worker gracefully.
            worker.signal(signal.SIGINT)
            assert worker.wait_exit(15) == 0
            stopped = query(dsn, "select stopped_at from htdag.workers where worker_id = %s",
                            (worker_id,))
            assert stopped[0]["stopped_at"] is not None
    finally:
        engine.close()


def test_a_task_that_kills_its_workers_fails_after_max_attempts_saying_so(
        dsn: str, tmp_path: Path) -> None:
    engine = htdag.connect(dsn)
    try:
        with WorkerProcesses(dsn, tmp_path) as workers:
            run = engine.start(dies_flow)
            deaths = 0
            deadline = time.monotonic() + 60
            # A supervisor: a worker that died is replaced, as systemd or Kubernetes would.
            while query(dsn, "select status::text from htdag.runs where run_id = %s",
                        (run.run_id,))[0]["status"] == "running":
                assert time.monotonic() < deadline, "the poison task was never given up"
                # Not wait_registered: the worker may register and die between two polls.
                worker = workers.start("handlers_raising.py", name=f"w{deaths + 1}",
                                       concurrency=2, lease=LEASE, poll_interval=0.1)
                wait_until(lambda w=worker: not w.alive() or _finished(dsn, run.run_id),
                           30, "the worker to die or the run to end")
                if not worker.alive():
                    deaths += 1
                    assert worker.popen.returncode == 1
            with pytest.raises(htdag.errors.RunFailed) as caught:
                run.wait(timeout=10)

            assert deaths == 3
            assert ("lease expired: the worker running it died or went silent "
                    "(3 times for this task) (attempt 3 of 3)") == caught.value.error
            outcomes = [(a["attempt"], a["outcome"]) for a in attempts_of(dsn, [run.run_id])]
            assert outcomes == [(1, "lost"), (2, "lost"), (3, "lost")]
            # The last worker started lives on: nothing is left for it to die of.
            assert worker.alive()
            assert engine.start(fine_flow, 1).wait(timeout=20)["fine"]["pid"] == worker.pid
    finally:
        engine.close()


def _finished(dsn: str, run_id: uuid.UUID) -> bool:
    rows = query(dsn, "select status::text from htdag.runs where run_id = %s", (run_id,))
    return rows[0]["status"] != "running"
