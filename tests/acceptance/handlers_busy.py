"""Handlers that use the database themselves, as agents' handlers do (here through
htdag's own pool, ``ctx.engine``): a worker running them holds about as many
pooled connections as it has slots. For the tests of killed connections."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import htdag

SLEEP_VARIABLE = "HTDAG_ACCEPT_SLEEP"  # how long linger sleeps, in the worker's environment

# A map step over the run input (a list of {"x", "hold"}), then a fan-in.
busy_flow = htdag.Flow("acceptance.busy")


@busy_flow.step(map=True, base_delay=0.1, max_delay=0.5)
async def use_db(item: dict[str, Any], ctx: htdag.TaskContext) -> int:
    async with ctx.engine.db.pool.connection() as conn:  # held for "hold" seconds
        await conn.execute("select pg_sleep(%s)", (float(item["hold"]),))
    return int(item["x"]) * 2


@busy_flow.step(depends_on=["use_db"])
def busy_total(inp: dict[str, Any]) -> int:
    return sum(inp["use_db"])


# The same without the database: only the worker's own calls take pooled connections.
quick_flow = htdag.Flow("acceptance.quick")


@quick_flow.step(map=True, base_delay=0.1, max_delay=0.5)
def double(item: dict[str, Any]) -> int:
    return int(item["x"]) * 2


@quick_flow.step(depends_on=["double"])
def quick_total(inp: dict[str, Any]) -> int:
    return sum(inp["double"])


# A task that outlasts a shutdown timeout: it marks that it started (a file in
# marker_dir), then sleeps for SLEEP_VARIABLE seconds.
linger_flow = htdag.Flow("acceptance.linger")


@linger_flow.step(map=True, base_delay=0.1, max_delay=0.5)
async def linger(item: dict[str, Any], ctx: htdag.TaskContext) -> int:
    (Path(item["marker_dir"]) / f"started-linger-{ctx.task_index}-pid{os.getpid()}").touch()
    await asyncio.sleep(float(os.environ.get(SLEEP_VARIABLE, "0")))
    return int(item["x"]) * 10


@linger_flow.step(depends_on=["linger"])
def linger_total(inp: dict[str, Any]) -> int:
    return sum(inp["linger"])


def busy_input(n: int, hold: float) -> list[dict[str, Any]]:
    return [{"x": i, "hold": hold} for i in range(n)]


def busy_output(n: int) -> int:
    return sum(2 * i for i in range(n))
