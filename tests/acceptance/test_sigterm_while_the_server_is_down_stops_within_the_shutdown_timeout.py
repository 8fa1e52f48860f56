"""A worker process gets SIGTERM while the server is down, holding a task that
outlasts --shutdown-timeout: it exits within the timeout plus a second or two.
Its shutdown cannot write anything (the task's lease expires instead), so each
write is bounded in time: before the fix each one waited for the pool's 30 s
connection timeout, and the worker took over a minute to exit.

The server is a private embedded one: the shared test server is never stopped."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _acceptance import WorkerProcesses, private_server, wait_until
from handlers_busy import SLEEP_VARIABLE, linger_flow

import htdag
from htdag.core import embedded

pytestmark = pytest.mark.acceptance

SHUTDOWN_TIMEOUT = 3.0


@pytest.fixture
def own_server() -> Iterator[tuple[Path, str]]:
    with private_server() as server:
        yield server


def test_a_worker_stops_in_time_while_the_server_is_down(own_server: tuple[Path, str],
                                                         tmp_path: Path) -> None:
    pgdata, url = own_server
    markers = tmp_path / "markers"
    markers.mkdir()
    engine = htdag.connect(url)  # migrates the fresh server
    try:
        run = engine.start(linger_flow, [{"x": 1, "marker_dir": str(markers)}])
    finally:
        engine.close()
    with WorkerProcesses(url, tmp_path) as workers:
        worker = workers.start("handlers_busy.py", concurrency=2, lease=20,
                               shutdown_timeout=SHUTDOWN_TIMEOUT, env={SLEEP_VARIABLE: "30"})
        worker.wait_registered()
        wait_until(lambda: list(markers.glob("started-linger-0-*")), 20,
                   "the worker to enter the task")
        assert embedded.stop_server(pgdata)
        signalled = time.monotonic()
        worker.signal(signal.SIGTERM)
        assert worker.wait_exit(SHUTDOWN_TIMEOUT + 90) == 0
        took = time.monotonic() - signalled
        assert took < SHUTDOWN_TIMEOUT + 2, f"the worker took {took:.1f}s to exit"
        print(f"exited {took:.2f}s after SIGTERM")
        assert "could not release unfinished tasks at shutdown" in worker.log()
    assert run.run_id
