"""``htdag runs``: goal (or flow name), status, started, duration and run id,
root runs by default; ``--all``, ``--status``, ``--goal``, ``--limit``; ``--json``
is one array with stable keys. Piped, it has no control codes."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

import htdag

from ._cli import ESCAPE, json_of, run_goal
from ._cli import htdag as htdag_cli

KEYS = {"run_id", "goal", "flow", "status", "started_at", "finished_at", "duration_seconds",
        "parent_run_id", "root_run_id", "depth", "error_code"}


@pytest.fixture
def two_runs(dsn: str, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """A compare run (two child runs) and, after it, a research run."""
    return (run_goal(dsn, capsys, "compare postgres with redis"),
            run_goal(dsn, capsys, "research SQLite"))


def test_root_runs_newest_first_as_json(dsn: str, capsys: pytest.CaptureFixture[str],
                                        two_runs: tuple[str, str]) -> None:
    compare, research = two_runs
    code, out, _ = htdag_cli(dsn, capsys, "runs", "--json")
    assert code == 0
    runs = json_of(out)
    assert [r["run_id"] for r in runs] == [research, compare]
    assert all(set(r) == KEYS for r in runs)
    newest = runs[0]
    assert newest["goal"] == "research SQLite"
    assert newest["flow"] == "graph:search-summarize-report"
    assert newest["status"] == "completed" and newest["parent_run_id"] is None
    took = (datetime.fromisoformat(newest["finished_at"])
            - datetime.fromisoformat(newest["started_at"])).total_seconds()
    assert newest["duration_seconds"] == pytest.approx(took, abs=0.001) and took > 0


def test_all_includes_child_runs_under_their_root(dsn: str, capsys: pytest.CaptureFixture[str],
                                                  two_runs: tuple[str, str]) -> None:
    compare, _ = two_runs
    runs = json_of(htdag_cli(dsn, capsys, "runs", "--all", "--json")[1])
    children = [r for r in runs if r["parent_run_id"] == compare]
    assert sorted(r["goal"] for r in children) == ["research postgres", "research redis"]
    assert {r["root_run_id"] for r in children} == {compare}
    assert all(r["depth"] == 1 for r in children)
    assert len(runs) == 4


def test_filters_by_goal_status_and_limit(dsn: str, capsys: pytest.CaptureFixture[str],
                                          two_runs: tuple[str, str]) -> None:
    compare, research = two_runs

    def ids(*args: str) -> list[str]:
        return [r["run_id"] for r in json_of(htdag_cli(dsn, capsys, "runs", "--json", *args)[1])]

    assert ids("--goal", "REDIS") == [compare]  # a substring, any case
    assert ids("--goal", "sqlite") == [research]
    assert ids("--goal", "search-summarize", "--all") == []  # the goal, not the flow name
    assert ids("--goal", "bake") == []
    assert ids("--status", "completed", "--limit", "1") == [research]
    assert ids("--status", "failed") == []


def test_the_table_for_people(dsn: str, capsys: pytest.CaptureFixture[str],
                              two_runs: tuple[str, str]) -> None:
    compare, research = two_runs
    code, out, _ = htdag_cli(dsn, capsys, "runs")
    assert code == 0 and not ESCAPE.search(out)
    header, first, second = out.splitlines()
    assert header.split() == ["status", "took", "started", "run", "id", "goal", "or", "flow"]
    assert first.startswith("completed") and first.endswith(f"{research}  research SQLite")
    assert second.endswith(f"{compare}  compare postgres with redis")
    assert first.index(research) == second.index(compare)  # columns line up


def test_no_runs_yet(dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert htdag_cli(dsn, capsys, "runs", "--json") == (0, "[]\n", "")
    code, out, _ = htdag_cli(dsn, capsys, "runs")
    assert code == 0 and out.split() == ["status", "took", "started", "run", "id", "goal",
                                         "or", "flow"]


def test_a_run_without_a_goal_shows_its_flow_name(dsn: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    flow = htdag.Flow("nightly-export")
    flow.add_step("export", "export")
    with htdag.connect(dsn) as engine:
        run = engine.start(flow, {"day": 1})  # no worker: it stays running
    [listed] = json_of(htdag_cli(dsn, capsys, "runs", "--goal", "NIGHTLY", "--json")[1])
    assert (listed["run_id"], listed["goal"], listed["flow"]) == (
        str(run.run_id), None, "nightly-export")
    assert listed["status"] == "running"
    assert listed["finished_at"] is None and listed["duration_seconds"] is None
    code, out, _ = htdag_cli(dsn, capsys, "runs", "--status", "running")
    assert code == 0
    [row] = out.splitlines()[1:]
    assert row.startswith("running") and row.endswith(f"{run.run_id}  nightly-export")
    assert re.search(r"^running\s+\d+\.\d\ds ", row)  # how long it has run so far
