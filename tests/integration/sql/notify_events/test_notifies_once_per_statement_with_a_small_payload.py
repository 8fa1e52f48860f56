"""After events are appended, one NOTIFY per insert on htdag_events says
"<last event id>:<count>": ids only, never outputs (they stay in the tables).
A batch of task events is one insert; a step, run or worker event is one row.
Updates that change no status (counters, leases) append and announce nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import psycopg
import pytest

from htdag.core.store import Store

from ..._event_support import table_events
from ..._support import WORKER_A, Db, Notifications, claim, complete, flow_of, listening, start

PAYLOAD = re.compile(r"(\d+):(\d+)")


@pytest.fixture
async def notes(dsn: str) -> AsyncIterator[Notifications]:
    async with listening(dsn, "htdag_events") as found:
        yield found


async def test_each_payload_is_the_last_id_and_count_of_its_statement(
        store: Store, db: Db, notes: Notifications) -> None:
    run_id = await start(store, flow_of("f", ("m", [], {"map": True}), ("t", ["m"])), [1, 2, 3])
    for _ in range(2):
        for task in await claim(store):
            await complete(store, task, task.task_index)
    assert (await db.run(run_id))["status"] == "completed"

    payloads = await notes.payloads("htdag_events")
    ids = sorted(e["event_id"] for e in await table_events(db))
    parsed = [tuple(map(int, PAYLOAD.fullmatch(p).groups())) for p in payloads]  # type: ignore[union-attr]
    assert sum(count for _, count in parsed) == len(ids)
    assert max(last for last, _ in parsed) == ids[-1]
    # the counts and last ids tile the ids: statement after statement
    covered: list[int] = []
    for last, count in sorted(parsed):
        covered.extend(range(last - count + 1, last + 1))
    assert covered == ids


async def test_a_statement_of_many_events_sends_one_notification(
        store: Store, notes: Notifications) -> None:
    await start(store, flow_of("f", ("m", [], {"map": True})), list(range(50)))
    await notes.payloads("htdag_events")

    tasks = await claim(store)  # 50 task.started in one statement

    assert len(tasks) == 50
    [payload] = await notes.payloads("htdag_events")
    assert payload.endswith(":50")


async def test_a_rolled_back_transaction_notifies_nothing_and_leaves_no_events(
        dsn: str, db: Db, notes: Notifications) -> None:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute("select htdag.record_event('optimizer.applied', null, null)")
        await conn.rollback()

    assert await notes.payloads("htdag_events") == []
    assert await table_events(db) == []


async def test_a_ten_megabyte_output_travels_neither_in_notify_nor_in_events(
        store: Store, db: Db, notes: Notifications) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)
    [task] = await claim(store)
    big = {"blob": "Q" * (10 * 1024 * 1024)}
    assert await complete(store, task, big) == [task.task_id]
    assert (await db.run(run_id))["status"] == "completed"

    payloads = await notes.payloads("htdag_events")
    assert payloads and all(len(p) < 32 for p in payloads)
    sizes = await db.row("select count(*) as n, max(pg_column_size(data)) as biggest,"
                         " sum(pg_column_size(data)) as total,"
                         " bool_or(data::text like '%%QQQQ%%') as has_output"
                         " from htdag.events")
    assert sizes["n"] == 6
    assert sizes["has_output"] is False
    assert sizes["biggest"] < 200 and sizes["total"] < 1000
    assert await db.value("select pg_total_relation_size('htdag.events')") < 1024 * 1024


async def test_counter_and_lease_updates_announce_nothing(
        store: Store, db: Db, notes: Notifications) -> None:
    await start(store, flow_of("f", ("m", [], {"map": True}), ("t", ["m"])), [1, 2, 3])
    first, second, third = await claim(store)
    await notes.payloads("htdag_events")

    await complete(store, first, 1)  # the step's remaining_tasks goes 3 -> 2
    [payload] = await notes.payloads("htdag_events")
    assert payload.endswith(":1")  # task.completed alone
    assert await store.extend_leases(WORKER_A, [(second.task_id, second.claim_token)], 30)
    assert await notes.payloads("htdag_events") == []

    await complete(store, second, 2)
    await complete(store, third, 3)  # completes m and starts t: three events, one each
    payloads = await notes.payloads("htdag_events")
    assert sorted(p.split(":")[1] for p in payloads) == ["1", "1", "1", "1"]
    kinds = [e["kind"] for e in await db.rows(
        "select kind from htdag.events order by event_id desc limit 3")]
    assert kinds == ["step.started", "step.completed", "task.completed"]
