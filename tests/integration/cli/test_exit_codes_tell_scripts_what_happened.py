"""Exit codes (README.md's table): 0 ok, 1 the run failed or was cancelled,
2 bad input, 3 timeout waiting, 4 the database (or a provider) unavailable.
Every error goes to stderr as one ``htdag: ...`` line that says what to do."""

from __future__ import annotations

import pytest

from htdag.cli import main

from ._cli import ESCAPE, failing_summaries, htdag, json_of


def test_a_run_that_fails_exits_1_and_still_shows_its_timeline(
        dsn: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    failing_summaries(monkeypatch)
    code, out, err = htdag(dsn, capsys, "run", "research mysql")
    assert code == 1
    assert "htdag: run " in err and "failed in step 'summarize'" in err
    assert "the source is unreadable" in err
    assert "summarize: FAILED" in out and "\ntimeline:\n" in out
    assert "result:" not in out and not ESCAPE.search(out)

    # `htdag status` of that run exits 1 too, and says why.
    code, out, _ = htdag(dsn, capsys, "runs", "--status", "failed", "--json")
    assert code == 0
    [failed] = json_of(out)
    code, out, _ = htdag(dsn, capsys, "status", failed["run_id"])
    assert code == 1
    assert "summarize  [failed]" in out and "error: " in out


def test_a_goal_no_decomposer_can_plan_exits_2(dsn: str, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTDAG_LLM_MODEL", raising=False)
    code, out, err = htdag(dsn, capsys, "run", "bake a cake")
    assert code == 2
    assert err.startswith("htdag: no decomposer could plan 'bake a cake'")
    assert "Traceback" not in err and "timeline" not in out


@pytest.mark.parametrize("run_id", ["not-a-uuid", "7c9e6679-7425-40de-944b-e07fc1f90ae7"])
def test_an_unknown_run_id_exits_2(dsn: str, capsys: pytest.CaptureFixture[str],
                                   run_id: str) -> None:
    for command in (["status", run_id], ["status", run_id, "--json"],
                    ["events", "--run", run_id]):
        code, out, err = htdag(dsn, capsys, *command)
        assert (code, out) == (2, ""), command
        assert err.startswith("htdag: ") and run_id in err
    code, _, err = htdag(dsn, capsys, "status", "7c9e6679-7425-40de-944b-e07fc1f90ae7")
    assert "htdag runs --all" in err  # where to find the right id


def test_waiting_longer_than_the_timeout_exits_3(dsn: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # The example handlers sleep at least 70 ms in a row: 10 ms cannot be enough.
    code, _, err = htdag(dsn, capsys, "run", "research postgres", "--timeout", "0.01")
    assert code == 3
    assert "did not finish within 0.01s; it goes on running" in err
    assert "htdag cancel " in err


def test_bad_arguments_exit_2_and_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--limit", "0"]) == 2
    assert "--limit: 0 is not a positive number" in capsys.readouterr().err
    assert main(["runs", "--status", "sleeping"]) == 2
    assert main(["no-such-command"]) == 2
    assert main(["runs", "--help"]) == 0
    assert "--goal TEXT" in capsys.readouterr().out


def test_an_unreachable_database_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 1 on this machine: nothing listens there, the refusal is immediate.
    assert main(["--url", "postgresql://postgres@127.0.0.1:1/none", "runs"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("htdag: cannot connect to postgresql://postgres@127.0.0.1:1/none")
