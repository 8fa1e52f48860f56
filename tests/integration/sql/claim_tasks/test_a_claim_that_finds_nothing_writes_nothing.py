"""A claim that finds no task updates no row, so the task events trigger (a
statement trigger, which fires for an update of zero rows too) does not run: an
idle worker's poll and a chain step's claim, which finds nothing once the
exchange took the next step, stay cheap. A claim that finds tasks writes them
once, with their task.started events, as before."""

from __future__ import annotations

from typing import Any

import psycopg

from htdag.core.store import Store

from ..._support import WORKER_A, flow_of, start


async def claim_counting_event_triggers(dsn: str, limit: int) -> tuple[list[Any], int]:
    """(claimed rows, calls of the task events trigger) in one transaction."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        async with conn.transaction():
            await conn.execute("set local track_functions = 'pl'")
            cur = await conn.execute("select * from htdag.claim_tasks(%s, %s, null, 30)",
                                     (WORKER_A, limit))
            claimed = await cur.fetchall()
            cur = await conn.execute(
                "select coalesce(pg_stat_get_xact_function_calls("
                "'htdag._task_events()'::regprocedure), 0)")
            row: Any = await cur.fetchone()
    return claimed, row[0]


async def test_a_claim_that_finds_nothing_fires_no_trigger(dsn: str) -> None:
    claimed, calls = await claim_counting_event_triggers(dsn, 10)
    assert (claimed, calls) == ([], 0)


async def test_a_claim_that_finds_tasks_writes_them_with_their_events(
        store: Store, dsn: str) -> None:
    run_id = await start(store, flow_of("f", ("m", [], {"map": True})), [1, 2, 3])

    claimed, calls = await claim_counting_event_triggers(dsn, 2)

    assert [row[4] for row in claimed] == [0, 1]  # task_index, in claim order
    assert calls == 1
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(
            "select task_index, status from htdag.tasks where run_id = %s order by task_index",
            (run_id,))
        assert await cur.fetchall() == [(0, "started"), (1, "started"), (2, "queued")]
        cur = await conn.execute(
            "select task_index from htdag.events where kind = 'task.started' and run_id = %s"
            " order by event_id", (run_id,))
        assert await cur.fetchall() == [(0,), (1,)]
