"""Helpers of the command-line tests: the ``htdag`` command called as
``main([...])`` with its output captured (a pipe, as scripts see it)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from htdag.cli import main

# Any control sequence a terminal would interpret (CSI, OSC, or a bare ESC).
ESCAPE = re.compile(r"\x1b|\x9b|\r")


def htdag(dsn: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Runs ``htdag --url DSN ARGS``: (exit code, stdout, stderr)."""
    capsys.readouterr()  # drop what came before
    code = main(["--url", dsn, *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_goal(dsn: str, capsys: pytest.CaptureFixture[str], goal: str, *args: str) -> str:
    """Runs a goal to completion with ``htdag run``; returns its run id."""
    code, out, err = htdag(dsn, capsys, "run", goal, "--no-timeline", *args)
    assert code == 0, err
    found = re.search(r"\(run ([0-9a-f-]{36})\)", out)
    assert found is not None, out
    return found[1]


def json_of(out: str) -> Any:
    return json.loads(out)


def failing_summaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes ``htdag run`` plan over example handlers whose ``summarize`` always
    fails (without retries): a "research ..." run then fails in its map step."""
    from htdag import NonRetryableError, examples
    from htdag.handlers import HandlerRegistry

    def summarize(item: str, topic: str) -> dict[str, Any]:
        raise NonRetryableError(f"cannot summarize {item!r}: the source is unreadable")

    registry = HandlerRegistry()
    registry.register(examples.search, "search")
    registry.register(summarize, "summarize")
    registry.register(examples.combine, "combine")
    registry.register(examples.compare, "compare")
    monkeypatch.setattr(examples, "example_handlers", registry)
