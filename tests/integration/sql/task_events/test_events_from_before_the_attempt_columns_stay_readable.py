"""0050 moved a task event's attempt and worker from data into columns, and made
the stream order (tx_id, event_id) the primary key. Events recorded before it
stay in the log, in the same order, and read as they did."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from htdag.core.db import apply_migrations
from htdag.core.engine import AsyncEngine
from htdag.notifications import aget_recent_events

from ..._support import flow_of


async def test_the_migration_keeps_earlier_task_events_as_they_read(empty_dsn: str) -> None:
    worker = "00000000-0000-4000-8000-00000000000a"
    async with await psycopg.AsyncConnection.connect(empty_dsn, autocommit=True) as conn:
        await apply_migrations(conn, up_to=49)
        flow = flow_of("f", ("a", []))
        await conn.execute("select htdag.add_flow(%s, %s::jsonb)",
                           (flow.hash, json.dumps(flow.to_definition())))
        await conn.execute("select htdag.start_run(%s, 'null')", (flow.hash,))
        await conn.execute("select * from htdag.claim_tasks(%s, 1, %s, 60)",
                           (worker, ["h.a"]))
        cur = await conn.execute("select event_id, kind, data from htdag.events"
                                 " order by tx_id, event_id")
        before: Any = await cur.fetchall()
        assert before[-1][1:] == ("task.started", {"attempt": 1, "worker_id": worker})

        await apply_migrations(conn)

        cur = await conn.execute("select event_id, kind, data from htdag.events"
                                 " order by tx_id, event_id")
        assert await cur.fetchall() == before
        cur = await conn.execute(
            "select pg_get_indexdef(indexrelid) from pg_index"
            " where indrelid = 'htdag.events'::regclass and indisprimary")
        assert await cur.fetchone() == (
            "CREATE UNIQUE INDEX events_pkey ON htdag.events USING btree (tx_id, event_id)",)

    engine = await AsyncEngine.connect(empty_dsn)
    try:
        events = await aget_recent_events(engine, kinds="task.started")
        assert [e.data for e in events] == [{"attempt": 1, "worker_id": worker}]
    finally:
        await engine.close()
