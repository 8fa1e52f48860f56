"""A task carries its run's root (tasks.root_run_id), which its events take from
the row: a child run's tasks name the root of the whole tree. The migration that
added the column (0044) filled it for the tasks already there, without events."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from htdag.core.db import apply_migrations
from htdag.core.store import Store

from ..._support import Db, claim, flow_of, start


async def test_a_child_runs_tasks_and_their_events_name_the_root(store: Store, db: Db) -> None:
    root = await start(store, flow_of("parent", ("p", [])), None)
    child = await start(store, flow_of("child", ("c", [])), None, parent_run_id=root)

    await claim(store)  # task.started for both

    tasks = await db.rows("select run_id, root_run_id from htdag.tasks order by task_id")
    assert tasks == [{"run_id": root, "root_run_id": root},
                     {"run_id": child, "root_run_id": root}]
    events = await db.rows("select run_id, root_run_id from htdag.events"
                           " where kind = 'task.started' order by event_id")
    assert {(e["run_id"], e["root_run_id"]) for e in events} == {(root, root), (child, root)}


async def test_the_migration_fills_the_root_of_existing_tasks(empty_dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(empty_dsn, autocommit=True) as conn:
        await apply_migrations(conn, up_to=43)
        flow = flow_of("f", ("a", []))
        await conn.execute("select htdag.add_flow(%s, %s::jsonb)",
                           (flow.hash, json.dumps(flow.to_definition())))
        cur = await conn.execute("select htdag.start_run(%s, 'null')", (flow.hash,))
        row: Any = await cur.fetchone()
        root = row[0]
        cur = await conn.execute("select htdag.start_run(%s, 'null', %s)",
                                 (flow.hash, root))
        row = await cur.fetchone()
        child = row[0]
        cur = await conn.execute("select count(*) from htdag.events")
        before: Any = await cur.fetchone()

        await apply_migrations(conn)

        cur = await conn.execute(
            "select run_id, root_run_id from htdag.tasks order by task_id")
        assert await cur.fetchall() == [(root, root), (child, root)]
        cur = await conn.execute("select count(*) from htdag.events")
        assert await cur.fetchone() == before  # the fill announced nothing
        cur = await conn.execute(
            "select is_nullable from information_schema.columns where table_schema ="
            " 'htdag' and table_name = 'tasks' and column_name = 'root_run_id'")
        assert await cur.fetchone() == ("NO",)
