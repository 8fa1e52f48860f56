"""``htdag events --json`` prints one JSON object per line; ``htdag workers``
lists workers (running ones, or ``--all``), ``--json`` for scripts."""

from __future__ import annotations

import json

import pytest

import htdag

from ._cli import ESCAPE, json_of, run_goal
from ._cli import htdag as cli


def test_events_as_json_lines(dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = run_goal(dsn, capsys, "research postgres")
    code, out, _ = cli(dsn, capsys, "events", "--run", run_id, "--json", "--limit", "100")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert {e["root_run_id"] for e in events} == {run_id}
    assert events[0]["kind"] == "run.started" and events[-1]["kind"] == "run.completed"
    ids = [e["id"] for e in events]
    # In stream order: by transaction, then id (an id is taken at insert, not at
    # commit), so ids need not grow; each event comes once.
    assert len(set(ids)) == len(ids) == len(events)
    mapped = [e for e in events if e["kind"] == "task.completed" and e["step"] == "summarize"]
    assert sorted(e["task_index"] for e in mapped) == [0, 1, 2, 3]
    code, out, _ = cli(dsn, capsys, "events", "--run", run_id, "--kind", "run")
    assert code == 0 and not ESCAPE.search(out)
    assert [line.split()[2] for line in out.splitlines()] == ["run.started", "run.completed"]


def test_workers(dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_goal(dsn, capsys, "research postgres")  # its in-process worker has stopped
    assert cli(dsn, capsys, "workers", "--json") == (0, "[]\n", "")
    [stopped] = json_of(cli(dsn, capsys, "workers", "--all", "--json")[1])
    assert stopped["state"] == "stopped" and "summarize" in stopped["handlers"]
    with htdag.connect(dsn) as engine:
        [worker] = engine.list_workers()
    assert stopped["worker_id"] == str(worker.worker_id) and stopped["pid"] == worker.pid
    code, out, _ = cli(dsn, capsys, "workers", "--all")
    assert code == 0
    header, row = out.splitlines()
    assert header.split()[:2] == ["state", "slots"]
    assert row.startswith("stopped") and str(worker.worker_id) in row
