"""read_events for one tree of runs goes through the root index: replaying a
run reads about as many entries as the run has events, however long the log."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from ..._support import Db

ENTRIES_READ = (
    "select sum(pg_stat_get_xact_tuples_returned(c.oid))::int from pg_class c"
    " where c.oid = 'htdag.events'::regclass"
    " or c.oid in (select indexrelid from pg_index where indrelid = 'htdag.events'::regclass)")
READ = "select event_id from htdag.read_events(%s::text::xid8, %s, null, null, %s, %s)"
LOG = 20_000


@pytest.fixture
async def tx(dsn: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """One transaction: the per-transaction scan counters start at zero."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        yield conn


async def entries_read(tx: psycopg.AsyncConnection[Any], query: str, params: Any,
                       expected: int) -> tuple[list[int], int]:
    """The ids read and how many entries it took (retried while a transaction open
    elsewhere on the server holds the events back)."""
    for _ in range(100):
        before = await (await tx.execute(ENTRIES_READ)).fetchone()
        rows = await (await tx.execute(query, params)).fetchall()
        after = await (await tx.execute(ENTRIES_READ)).fetchone()
        assert before is not None and after is not None
        if len(rows) == expected:
            break
        await asyncio.sleep(0.05)
    return [r[0] for r in rows], after[0] - before[0]


async def test_replaying_a_small_run_in_a_long_log_reads_only_its_entries(
        db: Db, tx: psycopg.AsyncConnection[Any]) -> None:
    busy, small = uuid.uuid4(), uuid.uuid4()
    await db.execute("insert into htdag.events (kind, root_run_id) values ('run.started', %s)",
                     (small,))
    await db.execute("insert into htdag.events (kind, root_run_id) select 'task.started', %s"
                     " from generate_series(1, %s)", (busy, LOG))
    await db.execute("insert into htdag.events (kind, root_run_id) select 'task.started', %s"
                     " from generate_series(1, 9)", (small,))
    await db.execute("analyze htdag.events")

    ids, read = await entries_read(tx, READ, ("0", 0, small, 1000), 10)

    assert len(ids) == 10
    assert read < 100, f"{read} index entries or rows read for 10 events"
    tx_id = await db.value("select tx_id::text from htdag.events where event_id = %s", (ids[4],))
    later, read = await entries_read(tx, READ, (tx_id, ids[4], small, 1000), 5)
    assert later == ids[5:]
    assert read < 100, f"{read} index entries or rows read for 5 events"
