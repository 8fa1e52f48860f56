"""Claims use FOR UPDATE SKIP LOCKED: a task locked by one claimer is skipped
by the others, so no task is handed out twice."""

from __future__ import annotations

import asyncio

import psycopg

from htdag.core.store import Store

from ..._support import WORKER_A, WORKER_B, Db, claim, flow_of, start

CLAIM = "select task_id from htdag.claim_tasks(%s, %s, null, 30)"


async def test_a_claim_skips_tasks_locked_by_an_uncommitted_claim(
        store: Store, db: Db, dsn: str) -> None:
    await start(store, flow_of("f", ("m", [], {"map": True})), list(range(6)))

    async with await psycopg.AsyncConnection.connect(dsn) as first:
        cur = await first.execute(CLAIM, (WORKER_A, 2))
        held = {r[0] for r in await cur.fetchall()}  # transaction still open: rows locked
        assert len(held) == 2

        others = {t.task_id for t in await claim(store, limit=10, worker=WORKER_B)}

        assert len(others) == 4
        assert held.isdisjoint(others)
        await first.commit()

    rows = await db.rows("select task_id, worker_id from htdag.tasks where status = 'started'")
    owners = {r["task_id"]: r["worker_id"] for r in rows}
    assert owners == {**{t: WORKER_A for t in held}, **{t: WORKER_B for t in others}}


async def test_concurrent_claimers_share_out_every_task_exactly_once(store: Store) -> None:
    await start(store, flow_of("f", ("m", [], {"map": True})), list(range(60)))

    async def claimer(n: int) -> list[int]:
        got: list[int] = []
        while True:
            batch = await claim(store, limit=3, worker=WORKER_A if n % 2 else WORKER_B)
            if not batch:
                return got
            got += [t.task_id for t in batch]

    results = await asyncio.gather(*(claimer(n) for n in range(6)))

    every = [t for r in results for t in r]
    assert len(every) == 60
    assert len(set(every)) == 60


async def test_a_claim_is_limited_to_the_workers_handlers(store: Store) -> None:
    flow = flow_of("f", ("a", []), ("b", []))
    await start(store, flow, None)

    assert [t.step_name for t in await claim(store, handlers=["h.b", "h.other"])] == ["b"]
    assert await claim(store, handlers=["h.b"]) == []
    assert [t.step_name for t in await claim(store, handlers=None)] == ["a"]


async def test_a_claim_sets_the_lease_token_and_worker(store: Store, db: Db) -> None:
    await start(store, flow_of("f", ("a", [])), None)

    [task] = await claim(store, worker=WORKER_B, lease=60)

    row = await db.row("select *, extract(epoch from lease_expires_at - started_at) as lease"
                       " from htdag.tasks")
    assert row["status"] == "started"
    assert row["claim_token"] == task.claim_token
    assert row["worker_id"] == WORKER_B
    assert row["attempts_count"] == 1
    assert 59 <= float(row["lease"]) <= 61
    assert await claim(store) == []
