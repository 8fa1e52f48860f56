"""Handlers for the subgoal crash test, loaded by worker processes
(``htdag worker tests/acceptance/handlers_subgoal.py``: its ``HANDLERS``) and
imported by the test for the registry and the rules.

``outer <dir>`` plans a goal task ``sub`` (the subgoal ``gated <dir>``) and a
task ``finish`` that uses its output. ``gated <dir>`` plans one task that marks
in ``<dir>`` that it started, then waits for a file named ``go`` there (at most
a minute): the test kills the worker while the root's goal task waits for that
child run."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from htdag import Planner
from htdag.core.context import TaskContext
from htdag.decomposers import Rule, RuleDecomposer
from htdag.handlers import HandlerRegistry

registry = HandlerRegistry()


@registry.handler("gated", description="Marks that it started, then waits for a go file.")
async def gated(marker_dir: str, ctx: TaskContext) -> str:
    directory = Path(marker_dir)
    (directory / f"started-{ctx.step}-attempt{ctx.attempt}-pid{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while not (directory / "go").exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return f"gate passed by {os.getpid()}"


@registry.handler("wrap", description="Wraps a value with the pid that wrapped it.")
def wrap(value: Any) -> dict[str, Any]:
    return {"value": value, "pid": os.getpid()}


rules = RuleDecomposer([
    Rule("outer", {"tasks": [
        {"id": "sub", "kind": "goal", "description": "gated {dir}",
         "options": {"base_delay": 0.1}},
        {"id": "finish", "handler": "wrap", "params": {"value": "$sub"}}],
        "output": "finish"}, pattern=r"^outer (?P<dir>\S+)$"),
    Rule("gated", {"tasks": [
        {"id": "gate", "handler": "gated", "params": {"marker_dir": "{dir}"},
         "options": {"base_delay": 0.1}}]}, pattern=r"^gated (?P<dir>\S+)$"),
])

# `htdag worker` serves a module's PLANNER: its handlers, and it plans the subgoals.
PLANNER = Planner(rules, registry)
