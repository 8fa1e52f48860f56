"""Flows and handlers of the benchmarks.

The benchmark process imports this file for the Flow objects (to start runs);
the worker process loads the same file through the CLI
(``htdag --url URL worker benchmarks/handlers.py``) for the handlers. Every
handler is an async no-op, so what is measured is the engine, not the work.
"""

from __future__ import annotations

import time
from typing import Any

from htdag import Flow

MAP_SIZE = 100
CHAIN_LENGTH = 100

# Throughput: one map step over the run input (a list of MAP_SIZE elements).
fanout = Flow("bench_fanout")


@fanout.step(map=True)
async def noop(item: Any) -> Any:
    return item


# Dispatch latency: one single step that records when its handler started.
latency = Flow("bench_latency")


@latency.step()
async def stamp(inp: Any) -> float:
    return time.time()


# Per-step overhead: CHAIN_LENGTH single steps, each depending on the one before.
chain = Flow("bench_chain")


async def link(inp: Any) -> int:
    return 0


for _i in range(CHAIN_LENGTH):
    chain.add_step(f"s{_i:03d}", link, handler_name="bench_chain.link",
                   depends_on=[f"s{_i - 1:03d}"] if _i else [])
del _i
