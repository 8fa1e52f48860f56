"""Handlers for the throughput and restart tests: a generator step, a map step
over its output, and a fan-in. ``x`` of each element is known to the test, so
every run's output can be checked exactly."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import htdag

# gen -> square (map) -> total (fan-in).
map_flow = htdag.Flow("acceptance.map")


@map_flow.step()
def gen(inp: dict[str, Any]) -> list[dict[str, Any]]:
    run = inp["run"]
    return [{"x": run["base"] + i, "pause": run.get("pause", 0.0)} for i in range(run["n"])]


@map_flow.step(depends_on=["gen"], map=True, base_delay=0.1, max_delay=1.0)
async def square(item: dict[str, Any]) -> int:
    if item["pause"]:
        await asyncio.sleep(item["pause"])
    return int(item["x"]) ** 2


@map_flow.step(depends_on=["square"])
def total(inp: dict[str, Any]) -> dict[str, Any]:
    return {"sum": sum(inp["square"]), "count": len(inp["square"])}


def expected_output(base: int, n: int) -> dict[str, Any]:
    """The run output for input ``{"base": base, "n": n}``."""
    values = [(base + i) ** 2 for i in range(n)]
    return {"total": {"sum": sum(values), "count": n}}


# A sync variant, so sync handlers (thread pool) see a restart too.
sync_map_flow = htdag.Flow("acceptance.sync_map")


@sync_map_flow.step(map=True, base_delay=0.1, max_delay=1.0)
def sync_square(item: dict[str, Any]) -> int:
    time.sleep(float(item.get("pause", 0.0)))
    return int(item["x"]) ** 2


@sync_map_flow.step(depends_on=["sync_square"])
def sync_total(inp: dict[str, Any]) -> int:
    return sum(inp["sync_square"])
