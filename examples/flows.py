"""A module of flows for a worker process:

    htdag worker examples/flows.py --concurrency 8      # in one terminal
    python examples/flows.py                             # in another: starts runs and waits
"""

from __future__ import annotations

import asyncio
import random

import htdag

etl = htdag.Flow("example.etl")


@etl.step()
def extract(inp: dict) -> list[int]:
    return list(range(inp["run"]["rows"]))


@etl.step(depends_on=["extract"], map=True, timeout=10, max_attempts=5, base_delay=0.1)
async def transform(row: int) -> int:
    await asyncio.sleep(random.uniform(0.001, 0.01))
    if random.random() < 0.05:
        raise RuntimeError("a flaky upstream")  # retried with backoff
    return row * row


@etl.step(depends_on=["transform"])
def load(inp: dict) -> dict:
    return {"rows": len(inp["transform"]), "sum": sum(inp["transform"])}


if __name__ == "__main__":
    engine = htdag.connect()
    runs = [engine.start(etl, {"rows": 50}) for _ in range(5)]
    for run in runs:
        print(run.run_id, run.wait(timeout=120))
