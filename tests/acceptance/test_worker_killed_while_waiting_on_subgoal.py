"""A worker process is SIGKILLed while a task of its waits for a subgoal (and
while it runs the child run's task): the waiting task holds no lease and is
not run again; the child's task comes back to a second worker when its lease
runs out; the child completes, completes the waiting task, and the run
completes, with exactly one child run."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from _acceptance import (
    WorkerProcesses,
    assert_each_task_completed_once,
    attempts_of,
    query,
    wait_until,
)
from handlers_subgoal import registry, rules

import htdag
from htdag.composer import compose_from_goal

pytestmark = pytest.mark.acceptance

LEASE = 2.0


def test_a_run_completes_after_the_worker_of_its_waiting_task_was_killed(
        dsn: str, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    engine = htdag.connect(dsn)
    try:
        with WorkerProcesses(dsn, tmp_path) as workers:
            first = workers.start("handlers_subgoal.py", name="doomed", concurrency=2,
                                  lease=LEASE)
            first_id = first.wait_registered()
            started = compose_from_goal(f"outer {markers}", engine=engine, decomposer=rules,
                                        handlers=registry, start_worker=False, wait=False)
            root = started.run_id

            wait_until(lambda: list(markers.glob(f"started-gate-attempt1-pid{first.pid}")),
                       20, "the first worker to run the child's task")

            def sub_task() -> dict[str, object]:
                return query(dsn, "select task_id, status::text as status, worker_id,"
                                  " attempts_count, lease_expires_at, waiting_for_run_id"
                                  " from htdag.tasks where run_id = %s and step_name = 'sub'",
                             (root,))[0]

            waiting = wait_until(lambda: (t := sub_task())["status"] == "waiting" and t, 10,
                                 "the goal task to wait for its child run")
            assert waiting["worker_id"] == first_id and waiting["lease_expires_at"] is None
            [child] = engine.list_runs(parent_run_id=root)
            assert waiting["waiting_for_run_id"] == child.run_id

            first.kill()  # SIGKILL: no release, no goodbye
            (markers / "go").touch()
            second = workers.start("handlers_subgoal.py", name="rescuer", concurrency=2,
                                   lease=LEASE)
            second_id = second.wait_registered()

            output = engine.wait(root, timeout=30)
            assert output == {"value": f"gate passed by {second.pid}", "pid": second.pid}

            second.signal(signal.SIGTERM)
            assert second.wait_exit(15) == 0

        # One child run: the waiting task was not run again (no second subgoal).
        assert [r.run_id for r in engine.list_runs(parent_run_id=root)] == [child.run_id]
        runs = query(dsn, "select run_id, status::text as status, depth, root_run_id"
                          " from htdag.runs order by depth")
        assert [(r["status"], r["depth"], r["root_run_id"]) for r in runs] == [
            ("completed", 0, root), ("completed", 1, root)]

        tasks = {(t["run_id"], t["step_name"]): t for t in assert_each_task_completed_once(
            dsn, [root, child.run_id], expected_tasks=3)}
        sub = tasks[(root, "sub")]
        assert (sub["attempts_count"], sub["worker_id"]) == (1, first_id)
        gate = tasks[(child.run_id, "gate")]
        assert (gate["attempts_count"], gate["worker_id"]) == (2, second_id)
        assert tasks[(root, "finish")]["worker_id"] == second_id

        attempts = [(a["step_name"], a["attempt"], a["outcome"], a["worker_id"])
                    for a in attempts_of(dsn, [root, child.run_id])]
        assert sorted(attempts) == sorted([
            ("sub", 1, "completed", first_id),
            ("gate", 1, "lost", first_id),
            ("gate", 2, "completed", second_id),
            ("finish", 1, "completed", second_id)])
        assert sorted(p.name for p in markers.iterdir()) == [
            "go", f"started-gate-attempt1-pid{first.pid}",
            f"started-gate-attempt2-pid{second.pid}"]
    finally:
        engine.close()
