"""Two worker processes with two slots each (four in all) serve tasks of one
concurrency key limited to three: never more than three of them run at once
(measured from the attempts' recorded intervals), both processes take part,
and all complete."""

from __future__ import annotations

from pathlib import Path

import pytest
from _acceptance import WorkerProcesses, query, wait_runs_finished
from handlers_keyed import KEY, keyed_flow

import htdag

pytestmark = pytest.mark.acceptance

LIMIT = 3
TASKS = 24


def test_the_key_never_runs_more_than_its_limit(dsn: str, tmp_path: Path) -> None:
    engine = htdag.connect(dsn)
    try:
        engine.set_concurrency_limit(KEY, LIMIT)
        with WorkerProcesses(dsn, tmp_path) as workers:
            procs = [workers.start("handlers_keyed.py", concurrency=2, lease=5)
                     for _ in range(2)]
            for p in procs:
                p.wait_registered()
            run = engine.start(keyed_flow, [0.15] * TASKS)
            [status] = wait_runs_finished(dsn, [run.run_id], timeout=60).values()
            assert status["status"] == "completed", status
            workers.stop_all()

        # The most attempts of the key running at one instant, from their intervals.
        [peak] = query(dsn, "select max(concurrency) as n, count(*) as attempts,"
                            " count(distinct worker_id) as workers"
                            " from htdag.attempt_metrics(null, %s)", (KEY,))
        assert peak["attempts"] == TASKS
        assert peak["n"] == LIMIT  # reached, never passed
        assert peak["workers"] == 2
        assert len(set(status["output"]["call_api"])) == 2  # both processes' pids
    finally:
        engine.close()
