"""``htdag optimizer ...``: explain a run's recorded decisions or a goal's
(planned, not run), handler statistics, concurrency limits, tuning, pruning;
bad input gets a message and exit code 2."""

from __future__ import annotations

import json
import re

import pytest

from htdag.cli import main


def run_ok(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_explain_a_run_and_a_goal_and_show_stats(dsn: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # A first run records attempts; a second, optimized, records its decisions.
    run_ok(capsys, "--url", dsn, "run", "research postgres", "--no-timeline")
    out = run_ok(capsys, "--url", dsn, "run", "research postgres", "--no-timeline",
                 "--optimize", "advanced")
    run_id = re.search(r"\(run ([0-9a-f-]{36})\)", out)
    assert run_id is not None

    explained = run_ok(capsys, "--url", dsn, "optimizer", "explain", run_id[1])
    assert explained.startswith(f"run {run_id[1]}: 0 of ")  # one sample each: nothing applied
    assert "timeout" in explained and "successful attempts" in explained

    as_json = json.loads(run_ok(capsys, "--url", dsn, "optimizer", "explain", "--json",
                                "research redis", "--level", "basic"))
    assert as_json["recorded"] is False
    assert {d["kind"] for d in as_json["decisions"]} == {"timeout"}

    stats = run_ok(capsys, "--url", dsn, "optimizer", "stats")
    assert re.search(r"^search\s+2\s+2\s+0\s+0\s+0", stats, re.M)
    rows = json.loads(run_ok(capsys, "--url", dsn, "optimizer", "stats", "--json"))
    assert {r["handler"] for r in rows} >= {"search", "combine"}


def test_limits_tune_and_prune(dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_ok(capsys, "--url", dsn, "optimizer", "limit").strip() == "no concurrency limits"
    assert run_ok(capsys, "--url", dsn, "optimizer", "limit", "api", "4").strip() == \
        "api: none -> 4"
    assert run_ok(capsys, "--url", dsn, "optimizer", "limit", "api").strip() == "4"
    tuned = run_ok(capsys, "--url", dsn, "optimizer", "tune")
    assert tuned.startswith("api: kept 4: only 0 completed attempts")
    assert run_ok(capsys, "--url", dsn, "optimizer", "limit", "api", "none").strip() == \
        "api: 4 -> none"
    assert run_ok(capsys, "--url", dsn, "optimizer", "prune").strip() == "deleted 0 attempts"


def test_bad_input_says_what_to_fix(dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", dsn, "optimizer", "limit", "api", "many"]) == 2
    assert "give a whole number >= 1" in capsys.readouterr().err
    assert main(["--url", dsn, "optimizer", "limit", "api", "0"]) == 2
    assert "max_running must be an int >= 1" in capsys.readouterr().err
    assert main(["--url", dsn, "optimizer", "explain", "00000000-0000-4000-8000-000000000000"]
                ) == 2
    assert "no run 00000000-0000-4000-8000-000000000000" in capsys.readouterr().err
