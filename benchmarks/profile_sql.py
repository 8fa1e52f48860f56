"""Where the database time goes: server time per SQL function, per task.

    .venv/bin/python benchmarks/profile_sql.py [--url URL]

Runs each benchmark flow through the worker's own round trip
(``Store.exchange``: complete the previous batch, claim the next) in this
process, with ``track_functions = 'all'``, and prints for each flow the client
round trip per task and, per SQL function, its calls and its total and self time
per task (self: not counting the htdag functions it calls). The difference
between the round trip and ``worker_exchange`` is commit (WAL flush), network
and psycopg. Needs a superuser (track_functions); server choice as run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import handlers as bench
import run_all

from htdag.core.definitions import Flow
from htdag.core.engine import AsyncEngine
from htdag.core.store import Completion

CASES: list[tuple[str, Flow, Any, int]] = [
    # (label, flow, run input, runs)
    ("one-step run (dispatch)", bench.latency, None, 200),
    (f"{bench.CHAIN_LENGTH}-step chain", bench.chain, None, 5),
    (f"map of {bench.MAP_SIZE}", bench.fanout, list(range(bench.MAP_SIZE)), 50),
]
CLAIM_LIMIT = 200


async def exchange_all(engine: AsyncEngine, worker_id: uuid.UUID, flow: Flow, payload: Any,
                       runs: int) -> tuple[int, float]:
    """Starts ``runs`` runs one after the other and works each off; (tasks, seconds in
    exchange round trips)."""
    store = engine.store
    tasks, round_trip = 0, 0.0
    for _ in range(runs):
        await engine.start(flow, payload)
        started = time.perf_counter()
        claimed = await store.exchange(worker_id, [], [], CLAIM_LIMIT, None, 30)
        round_trip += time.perf_counter() - started
        while claimed:
            tasks += len(claimed)
            done = [Completion(c.task_id, c.claim_token, "0") for c in claimed]
            started = time.perf_counter()
            claimed = await store.exchange(worker_id, done, [], CLAIM_LIMIT, None, 30)
            round_trip += time.perf_counter() - started
    return tasks, round_trip


async def profile(url: str, label: str, flow: Flow, payload: Any, runs: int) -> None:
    # Warm-up in a session of its own: ending it flushes its statistics, which the
    # reset below then clears, so only the measured session's calls are counted.
    async with await AsyncEngine.connect(url, pool_size=1) as engine:
        await exchange_all(engine, uuid.uuid4(), flow, payload, 1)
    await asyncio.sleep(0.5)
    engine = await AsyncEngine.connect(url, pool_size=1)
    try:
        async with engine.db.pool.connection() as conn:
            await conn.execute("select pg_stat_reset()")
            await conn.execute("set track_functions = 'all'")
        tasks, round_trip = await exchange_all(engine, uuid.uuid4(), flow, payload, runs)
    finally:
        await engine.close()  # ends the session, which flushes its statistics
    await asyncio.sleep(0.5)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "select funcname, calls, total_time, self_time from pg_stat_user_functions"
            " where schemaname = 'htdag' order by total_time desc")
        rows = await cur.fetchall()
    print(f"\n{label}: {runs} runs, {tasks} tasks; exchange round trips (client) "
          f"{round_trip * 1000 / tasks:.3f} ms/task")
    print(f"  {'function':24} {'calls':>7} {'total ms/task':>14} {'self ms/task':>13}")
    for name, calls, total, self_time in rows:
        print(f"  {name:24} {calls:7d} {total / tasks:14.4f} {self_time / tasks:13.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("HTDAG_BENCH_URL"))
    args = parser.parse_args()
    with run_all.server(args.url) as (admin_url, kind):
        run_all.note(f"server: {kind}, {run_all.server_version(admin_url)}")
        for n, (label, flow, payload, runs) in enumerate(CASES):
            # A database per case, so that each starts from the same empty tables.
            name = f"htdag_bench_{os.getpid()}_profile{n}"
            run_all.create_database(admin_url, name)
            try:
                asyncio.run(profile(run_all.with_database(admin_url, name), label, flow,
                                    payload, runs))
            finally:
                run_all.drop_database(admin_url, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
