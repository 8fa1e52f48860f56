"""read_events returns events after a (tx_id, event_id) position, in that
order, and only of transactions older than every running one: an event id is
taken at insert, not at commit, so a reader going by id alone could pass an
event that a slower transaction commits later."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from htdag.core.store import Store

from ..._support import Db, eventually, flow_of, start

INSERT = "insert into htdag.events (kind, root_run_id) values (%s, %s) returning event_id"
READ = ("select event_id, tx_id, kind from htdag.read_events("
        "%s::text::xid8, %s, %s::text::xid8, %s, %s, %s)")


async def read_all(db: Db, count: int, **options: Any) -> list[dict[str, Any]]:
    """Reads once ``count`` events are stable: a transaction open elsewhere on the
    server (another database's, even) holds every later one back a moment."""

    async def enough() -> list[dict[str, Any]] | None:
        rows = await read(db, **options)
        return rows if len(rows) >= count else None

    return await eventually(enough, timeout=10)


async def read(db: Db, after: tuple[int, int] = (0, 0), upto: tuple[int, int] | None = None,
               root: uuid.UUID | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    return await db.rows(READ, (str(after[0]), after[1], None if upto is None else str(upto[0]),
                                None if upto is None else upto[1], root, limit))


@pytest.fixture
async def open_tx(dsn: str) -> AsyncIterator[list[psycopg.AsyncConnection[Any]]]:
    """Connections for transactions the test keeps open."""
    conns: list[psycopg.AsyncConnection[Any]] = []
    yield conns
    for conn in conns:
        await conn.close()


async def begin(dsn: str, open_tx: list[psycopg.AsyncConnection[Any]]
                ) -> psycopg.AsyncConnection[Any]:
    conn = await psycopg.AsyncConnection.connect(dsn)  # not autocommit: one open transaction
    open_tx.append(conn)
    return conn


async def insert(conn: psycopg.AsyncConnection[Any], kind: str = "optimizer.applied",
                 root: uuid.UUID | None = None) -> int:
    cur = await conn.execute(INSERT, (kind, root))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_events_of_an_open_transaction_are_not_read(
        dsn: str, db: Db, open_tx: list[psycopg.AsyncConnection[Any]]) -> None:
    tx = await begin(dsn, open_tx)
    await insert(tx)

    assert await read(db) == []
    await tx.commit()
    assert len(await read_all(db, 1)) == 1


async def test_a_later_commit_waits_for_an_older_open_transaction(
        dsn: str, db: Db, open_tx: list[psycopg.AsyncConnection[Any]]) -> None:
    older = await begin(dsn, open_tx)
    first = await insert(older)  # takes id 1 and the older transaction id
    second = await insert(db.conn)  # id 2, committed at once, in a younger transaction

    # Reading id 2 now would let a reader move past id 1, which commits later.
    assert await read(db) == []
    third = await insert(older)
    await older.commit()

    rows = await read_all(db, 3)
    assert [r["event_id"] for r in rows] == [first, third, second]  # by transaction, then id
    assert rows[0]["tx_id"] == rows[1]["tx_id"] < rows[2]["tx_id"]


async def test_a_rolled_back_older_transaction_releases_the_events_after_it(
        dsn: str, db: Db, open_tx: list[psycopg.AsyncConnection[Any]]) -> None:
    older = await begin(dsn, open_tx)
    await insert(older)
    kept = await insert(db.conn)
    assert await read(db) == []

    await older.rollback()

    assert [r["event_id"] for r in await read_all(db, 1)] == [kept]


async def test_reading_resumes_strictly_after_a_position_and_stops_at_an_upper_one(
        db: Db) -> None:
    ids = [await insert(db.conn) for _ in range(6)]
    rows = await read_all(db, 6)
    positions = [(int(r["tx_id"]), int(r["event_id"])) for r in rows]
    assert [p[1] for p in positions] == ids

    assert [r["event_id"] for r in await read(db, after=positions[1])] == ids[2:]
    assert [r["event_id"] for r in await read(db, after=positions[1], upto=positions[4])] \
        == ids[2:5]
    assert [r["event_id"] for r in await read(db, after=positions[1], limit=2)] == ids[2:4]
    assert await read(db, after=positions[-1]) == []


async def test_reading_can_be_limited_to_one_tree_of_runs(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []))
    root = await start(store, flow, None)
    other = await start(store, flow, None)
    child = await start(store, flow, None, parent_run_id=root)

    await read_all(db, 6)
    rows = await db.rows("select e.run_id from htdag.read_events('0', 0, null, null, %s, 100) e",
                         (root,))
    assert [r["run_id"] for r in rows] == [root, root, child, child]
    assert other not in {r["run_id"] for r in rows}


async def test_the_kind_must_look_like_category_dot_name(db: Db) -> None:
    for bad in ("started", "Run.started", "run.started!", "run-x.started"):
        with pytest.raises(psycopg.errors.CheckViolation):
            await insert(db.conn, bad)
    assert await insert(db.conn, "subgoal.submitted") > 0
