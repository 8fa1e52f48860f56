"""The flow of the chaos test (``benchmarks/chaos.py``): two chained map steps
between a generator and a fan-in, so that killed workers hit fan-out, map
tasks, a map step that starts when another completes, and aggregation.

    gen -> square (map, async) -> shift (map, sync: thread pool) -> total

The chaos driver imports this file for the Flow (to start runs); every worker
process loads the same file through the CLI for the handlers.

Every handler entry is written to a per-process log (``entries-<pid>.log`` in
the directory named by ``HTDAG_CHAOS_ENTRIES_DIR``), one ``os.write`` of one
line to a file opened with O_APPEND: a SIGKILL cannot lose a line that was
written (it is in the kernel, not in a userspace buffer), so the driver can
count how often each task's handler really ran. Each map output carries the
attempt that produced it, so the audit can check that the stored output is the
one of the attempt the database says completed.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from htdag import Flow, TaskContext

ENTRIES_DIR_VARIABLE = "HTDAG_CHAOS_ENTRIES_DIR"

# Retries are the point here: a task may lose several attempts to SIGKILLs (a
# kill takes every task its worker holds), and the default of 3 would turn a
# third unlucky kill into a failed run, which is max_attempts working as
# designed, not a delivery bug. Short delays, so a requeued task comes back fast.
RETRY_OPTIONS: dict[str, Any] = {"max_attempts": 25, "base_delay": 0.05, "max_delay": 0.5}

chaos_flow = Flow("chaos.map")

_entries_fd: int | None = None


def record_entry(ctx: TaskContext) -> None:
    """Appends ``task_id attempt pid`` to this process's entries log."""
    global _entries_fd
    folder = os.environ.get(ENTRIES_DIR_VARIABLE)
    if not folder:
        return
    if _entries_fd is None:
        path = os.path.join(folder, f"entries-{os.getpid()}.log")
        _entries_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(_entries_fd, f"{ctx.task_id} {ctx.attempt} {os.getpid()}\n".encode())


def pause_of(x: int, pause_max: float) -> float:
    """A spread of handler durations, from the element alone (so reproducible)."""
    return pause_max * ((x * 7919) % 101) / 100


@chaos_flow.step(**RETRY_OPTIONS)
def gen(inp: dict[str, Any], ctx: TaskContext) -> list[dict[str, Any]]:
    record_entry(ctx)
    run = inp["run"]
    return [{"x": run["base"] + i, "pause": pause_of(run["base"] + i, run["pause_max"])}
            for i in range(run["n"])]


@chaos_flow.step(depends_on=["gen"], map=True, **RETRY_OPTIONS)
async def square(item: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    record_entry(ctx)
    await asyncio.sleep(item["pause"])
    x = int(item["x"])
    return {"x": x, "value": x * x, "pause": item["pause"], "attempt": ctx.attempt}


@chaos_flow.step(depends_on=["square"], map=True, **RETRY_OPTIONS)
def shift(item: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    record_entry(ctx)
    time.sleep(item["pause"] / 2)
    return {"x": item["x"], "value": item["value"] + 1, "attempt": ctx.attempt}


@chaos_flow.step(depends_on=["shift"], **RETRY_OPTIONS)
def total(inp: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    record_entry(ctx)
    values = [e["value"] for e in inp["shift"]]
    # Weighted by position: an element out of order or applied twice changes it.
    return {"count": len(values), "sum": sum(values),
            "checksum": sum(i * v for i, v in enumerate(values)),
            "xs": [e["x"] for e in inp["shift"]]}


def expected_output(base: int, n: int) -> dict[str, Any]:
    """The run output for input ``{"base": base, "n": n, ...}``."""
    values = [(base + i) ** 2 + 1 for i in range(n)]
    return {"total": {"count": n, "sum": sum(values),
                      "checksum": sum(i * v for i, v in enumerate(values)),
                      "xs": [base + i for i in range(n)]}}


def tasks_per_run(n: int) -> int:
    """gen, square x n, shift x n, total."""
    return 2 + 2 * n
