"""Handlers for the crash and shutdown tests, loaded by worker processes
(``htdag worker tests/acceptance/handlers_slow.py``) and imported by the tests
for the Flow objects.

Every handler touches a marker file in ``marker_dir`` (from the run input) when
it starts, so a test knows a worker is inside a handler before it kills or stops
that worker. How long a handler then sleeps comes from the worker process's
environment (``HTDAG_ACCEPT_SLEEP``, seconds, default 0): the worker a test
interrupts sleeps long, the worker that takes over does not.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import htdag

SLEEP_VARIABLE = "HTDAG_ACCEPT_SLEEP"


def _sleep_seconds() -> float:
    return float(os.environ.get(SLEEP_VARIABLE, "0"))


def _mark(marker_dir: str, ctx: htdag.TaskContext) -> None:
    name = f"started-{ctx.step}-{ctx.task_index}-attempt{ctx.attempt}-pid{os.getpid()}"
    (Path(marker_dir) / name).touch()


# A single slow step, then a step that uses its output. Short retry delay, so a
# task whose lease ran out is claimed again at once.
slow_flow = htdag.Flow("acceptance.slow")


@slow_flow.step(base_delay=0.1, max_delay=0.5)
def slow(inp: dict[str, Any], ctx: htdag.TaskContext) -> dict[str, Any]:
    _mark(inp["run"]["marker_dir"], ctx)
    time.sleep(_sleep_seconds())
    return {"doubled": inp["run"]["x"] * 2, "pid": os.getpid()}


@slow_flow.step(depends_on=["slow"])
def finish(inp: dict[str, Any]) -> int:
    return int(inp["slow"]["doubled"]) + 1


# A map step over the run input (a list of {"x", "marker_dir"}), then a fan-in.
# One sync and one async variant: a sync handler runs in a thread, which cannot
# be interrupted; an async one is cancelled.
pair_flow = htdag.Flow("acceptance.pair")


@pair_flow.step(map=True, base_delay=0.1, max_delay=0.5)
def work(item: dict[str, Any], ctx: htdag.TaskContext) -> int:
    _mark(item["marker_dir"], ctx)
    time.sleep(_sleep_seconds())
    return int(item["x"]) * 10


@pair_flow.step(depends_on=["work"])
def pair_total(inp: dict[str, Any]) -> int:
    return sum(inp["work"])


apair_flow = htdag.Flow("acceptance.apair")


@apair_flow.step(map=True, base_delay=0.1, max_delay=0.5)
async def awork(item: dict[str, Any], ctx: htdag.TaskContext) -> int:
    _mark(item["marker_dir"], ctx)
    await asyncio.sleep(_sleep_seconds())
    return int(item["x"]) * 10


@apair_flow.step(depends_on=["awork"])
def apair_total(inp: dict[str, Any]) -> int:
    return sum(inp["awork"])


# A step that waits for the test: it marks that it started, then polls for a
# file named "go" in marker_dir (at most a minute). The run cannot finish before
# the test has done what it wanted to do meanwhile (a server restart, say).
gated_flow = htdag.Flow("acceptance.gated")


@gated_flow.step(base_delay=0.1, max_delay=0.5)
async def gated(inp: dict[str, Any], ctx: htdag.TaskContext) -> int:
    marker_dir = Path(inp["run"]["marker_dir"])
    _mark(str(marker_dir), ctx)
    deadline = time.monotonic() + 60
    while not (marker_dir / "go").exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return int(inp["run"]["x"]) * 2
