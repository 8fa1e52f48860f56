"""``htdag status RUN``: the run tree (child runs under the step whose task
submitted them) with each step's status and tasks done/total, errors and a
short output; ``--json`` for scripts."""

from __future__ import annotations

import json

import pytest

from ._cli import ESCAPE, htdag, json_of, run_goal


def test_the_tree_as_text(dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = run_goal(dsn, capsys, "compare postgres with redis")
    code, out, _ = htdag(dsn, capsys, "status", run_id)
    assert code == 0 and not ESCAPE.search(out)
    lines = out.splitlines()
    assert lines[0].startswith(f"compare postgres with redis  [completed]  run {run_id}  ")
    assert lines[1] == "  left  [completed]  1/1 tasks"
    assert lines[2].startswith("    research postgres  [completed]  run ")
    assert lines[3:6] == ["      search  [completed]  1/1 tasks",
                          "      summarize  [completed]  4/4 tasks",
                          "      report  [completed]  1/1 tasks"]
    assert lines[6] == "  right  [completed]  1/1 tasks"
    assert lines[7].startswith("    research redis  [completed]  run ")
    assert lines[11] == "  verdict  [completed]  1/1 tasks"
    assert lines[12] == ('output: {"sources": 8, "compared": ["postgres", "redis"], '
                         '"more_material": "postgres"}')
    assert "__summarize_items" not in out  # the builder's steps stay hidden


def test_the_tree_as_json(dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = run_goal(dsn, capsys, "compare postgres with redis")
    code, out, _ = htdag(dsn, capsys, "status", run_id, "--json")
    assert code == 0
    tree = json_of(out)
    assert (tree["run_id"], tree["status"], tree["goal"]) == (
        run_id, "completed", "compare postgres with redis")
    assert tree["output"]["compared"] == ["postgres", "redis"]
    assert [s["name"] for s in tree["steps"]] == ["left", "right", "verdict"]
    [child] = tree["steps"][0]["runs"]
    assert child["goal"] == "research postgres" and child["status"] == "completed"
    summarize = child["steps"][1]
    assert (summarize["name"], summarize["tasks_done"], summarize["tasks_total"]) == (
        "summarize", 4, 4)
    assert tree["steps"][2]["runs"] == [] and tree["runs"] == []
    assert child["duration_seconds"] <= tree["duration_seconds"]


def test_a_long_output_is_cut(dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A long topic, four times in the report: well over 300 characters of output.
    run_id = run_goal(dsn, capsys, "research postgres logical replication slots")
    whole = json_of(htdag(dsn, capsys, "status", run_id, "--json")[1])["output"]
    assert len(json.dumps(whole)) > 300  # all of it for scripts
    out = htdag(dsn, capsys, "status", run_id)[1]
    [output] = [line for line in out.splitlines() if line.startswith("output: ")]
    assert output == "output: " + json.dumps(whole)[:299] + "…"
