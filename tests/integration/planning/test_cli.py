"""``htdag run "<goal>"``: plans the goal, runs it with an in-process worker,
prints progress lines, the result and a timeline."""

from __future__ import annotations

import json
import re

import pytest

import htdag
import htdag.flows
from htdag.cli import main


def result_of(out: str) -> dict[str, object]:
    text = out.split("\nresult: ", 1)[1]
    return json.loads(text[:text.index("\ndone in ")])  # type: ignore[no-any-return]


def test_run_prints_progress_and_the_result(dsn: str, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    assert main(["--url", dsn, "run", "research postgres"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("database: ")
    progress = [line for line in lines if re.match(r"\[\s*\d+\.\d\ds\] ", line)]
    text = "\n".join(progress)
    assert "planned 'research postgres' with rules: 3 tasks" in text
    assert "search: started" in text and "search: completed" in text
    assert re.search(r"summarize: started, \d tasks", text)
    assert "report: completed" in text
    assert re.search(r"run [0-9a-f]{8} completed", progress[-1])
    assert "__summarize_items" not in out  # hidden steps stay hidden

    report = result_of(out)
    assert report["topic"] == "postgres"
    assert report["sources"] == 4 and isinstance(report["report"], str)
    assert "\ntimeline:\n" in out
    run_id = re.search(r"done in [\d.]+s \(run ([0-9a-f-]{36})\)", out)
    assert run_id is not None
    with htdag.connect(dsn) as engine:
        assert engine.status(run_id[1]).run.status is htdag.flows.RunStatus.COMPLETED
        # The in-process worker it started was stopped when it finished.
        assert all(w.stopped_at is not None for w in engine.list_workers())


def test_run_shows_subgoals_indented(dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", dsn, "run", "compare postgres with redis", "--no-timeline"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\] subgoal 'research postgres' -> run [0-9a-f]{8}", out)
    assert re.search(r"\]   planned 'research redis' with rules: 3 tasks", out)  # depth 1
    assert result_of(out)["compared"] == ["postgres", "redis"]
    assert "timeline:" not in out


def test_a_goal_no_rule_matches_is_an_error(dsn: str, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTDAG_LLM_MODEL", raising=False)
    assert main(["--url", dsn, "run", "bake a cake"]) == 2
    err = capsys.readouterr().err
    assert "htdag: no decomposer could plan 'bake a cake'" in err
    assert "no rule matches the goal 'bake a cake'" in err  # each one says why
    assert "the plan cache has no plan for this goal" in err
    assert "configure a model (HTDAG_LLM_MODEL)" in err
