"""PostgreSQL restarts in the middle of a run: every connection of two worker
processes is cut at once. The workers reconnect, the run completes with the
right output, and every task is completed exactly once.

The tests share a private embedded server (``private_server``), so they never
restart the shared test server."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _acceptance import (
    WorkerProcesses,
    assert_each_task_completed_once,
    private_server,
    query,
    wait_runs_finished,
    wait_until,
)
from handlers_map import expected_output, map_flow
from handlers_slow import gated_flow

import htdag
from htdag.core import embedded

pytestmark = pytest.mark.acceptance

ELEMENTS = 100
PAUSE = 0.2  # seconds per map task: 100 tasks over 2 x 3 slots take over 3 s
CONCURRENCY = 3


@pytest.fixture(scope="module")
def own_server() -> Iterator[tuple[Path, str]]:
    """A private embedded server for this module's tests: (data dir, URL)."""
    with private_server() as server:
        yield server


def _completed_squares(url: str, run_id: uuid.UUID) -> int:
    rows = query(url, "select count(*) as n from htdag.tasks"
                      " where run_id = %s and step_name = 'square' and status = 'completed'",
                 (run_id,))
    return int(rows[0]["n"])


def test_workers_survive_a_postgres_restart(own_server: tuple[Path, str], tmp_path: Path
                                            ) -> None:
    pgdata, url = own_server
    engine = htdag.connect(url)  # migrates the fresh server
    try:
        run = engine.start(map_flow, {"base": 7, "n": ELEMENTS, "pause": PAUSE})
    finally:
        engine.close()

    with WorkerProcesses(url, tmp_path) as workers:
        procs = [workers.start("handlers_map.py", concurrency=CONCURRENCY, lease=5)
                 for _ in range(2)]
        for p in procs:
            p.wait_registered()

        wait_until(lambda: _completed_squares(url, run.run_id) >= 12, 30,
                   "the workers to complete some map tasks")
        done_before = _completed_squares(url, run.run_id)
        # Otherwise the restart would not be mid-run: tasks must be made slower.
        assert done_before < ELEMENTS * 0.6, "the run was nearly done before the restart"
        restarted_at = time.monotonic()
        assert embedded.restart_server(pgdata) == url
        restart_seconds = time.monotonic() - restarted_at
        done_after = _completed_squares(url, run.run_id)
        assert done_after < ELEMENTS, "the run finished during the restart; make tasks slower"
        assert all(p.alive() for p in procs), "a worker died when the server restarted"

        runs = wait_runs_finished(url, [run.run_id], timeout=45, retry_for=10)
        assert runs[run.run_id]["status"] == "completed", runs
        assert runs[run.run_id]["output"] == expected_output(7, ELEMENTS)

        workers.stop_all()
        assert [p.popen.returncode for p in procs] == [0, 0]

    print(f"restart took {restart_seconds:.2f}s; squares done before {done_before}, "
          f"right after {done_after}")
    tasks = assert_each_task_completed_once(url, [run.run_id], expected_tasks=ELEMENTS + 2)
    assert len({t["worker_id"] for t in tasks}) == 2


def test_a_client_waiting_on_a_run_survives_a_postgres_restart(
        own_server: tuple[Path, str], tmp_path: Path) -> None:
    pgdata, url = own_server
    markers = tmp_path / "markers"
    markers.mkdir()
    engine = htdag.connect(url)
    try:
        with WorkerProcesses(url, tmp_path) as workers:
            workers.start("handlers_slow.py", concurrency=2, lease=5).wait_registered()
            # The task waits for the file "go", so the run ends only after the restart.
            run = engine.start(gated_flow, {"x": 5, "marker_dir": str(markers)})
            result: dict[str, Any] = {}

            def wait() -> None:
                try:
                    result["output"] = run.wait(timeout=30)
                except Exception as exc:  # noqa: BLE001 - raised again in the test's thread
                    result["error"] = exc

            waiter = threading.Thread(target=wait, name="waiter")
            waiter.start()
            try:
                wait_until(lambda: list(markers.glob("started-gated-*")), 20,
                           "the worker to start the task")
                time.sleep(0.2)  # the waiter has subscribed and read the run once by now
                embedded.restart_server(pgdata)
                (markers / "go").touch()
            finally:
                (markers / "go").touch()
                waiter.join(40)
            if "error" in result:
                raise result["error"]
            assert result == {"output": {"gated": 10}}
    finally:
        engine.close()


async def test_a_worker_started_after_a_restart_on_a_long_lived_engine_works(
        own_server: tuple[Path, str]) -> None:
    """A notebook's engine outlives a server restart, then starts a worker."""
    pgdata, url = own_server
    engine = await htdag.aconnect(url)
    try:
        run = await engine.start(map_flow, {"base": 2, "n": 3})
        await asyncio.to_thread(embedded.restart_server, pgdata)
        worker = engine.worker([map_flow], concurrency=2, poll_interval=0.2)
        working = asyncio.create_task(worker.run())
        waiting = asyncio.create_task(run.wait(timeout=20))
        try:
            await asyncio.wait({working, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if working.done():
                working.result()  # raises what stopped the worker
            assert await waiting == expected_output(2, 3)
        finally:
            worker.stop()
            waiting.cancel()
            await asyncio.gather(working, waiting, return_exceptions=True)
    finally:
        await engine.close()
