"""A worker's exchange that makes tasks ready while nothing is queued creates them
started for itself (the claim in the same transaction would have taken exactly
these): each such task is written once, not inserted and then claimed. With a
task queued, or without room or the handler, the order is the claim's."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from htdag.core.store import ClaimedTask, Store

from ..._support import WORKER_A, WORKER_B, Db, claim, flow_of, start

_EXCHANGE = ("select * from htdag.worker_exchange(%s, %s, %s, %s::jsonb[], '{}', '{}', '{}',"
             " '{}', %s, %s, 30)")


async def exchange_counting_writes(dsn: str, done: list[ClaimedTask], limit: int,
                                   handlers: list[str] | None = None
                                   ) -> tuple[list[ClaimedTask], int, int]:
    """The exchange in one transaction: (claimed, task rows inserted, task rows updated)."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        async with conn.transaction():
            cur = await conn.execute(_EXCHANGE, (
                WORKER_A, [t.task_id for t in done], [t.claim_token for t in done],
                ["1"] * len(done), limit, handlers))
            claimed = [ClaimedTask(*row) for row in await cur.fetchall()]
            cur = await conn.execute(
                "select pg_stat_get_xact_tuples_inserted('htdag.tasks'::regclass),"
                " pg_stat_get_xact_tuples_updated('htdag.tasks'::regclass)")
            row: Any = await cur.fetchone()
    return claimed, row[0], row[1]


async def test_the_next_step_of_a_chain_is_created_started_for_the_worker(
        store: Store, db: Db, dsn: str) -> None:
    run_id = await start(store, flow_of("f", ("a", []), ("b", ["a"])), {"x": 1})
    [a] = await claim(store)

    claimed, inserted, updated = await exchange_counting_writes(dsn, [a], 10)

    assert [(t.step_name, t.attempt, t.input) for t in claimed] == [
        ("b", 1, {"run": {"x": 1}, "a": 1})]
    assert (inserted, updated) == (1, 1)  # b created started; a completed
    b = await db.task(run_id, "b")
    assert (b["status"], b["worker_id"], b["claim_token"]) == (
        "started", WORKER_A, claimed[0].claim_token)
    assert b["lease_expires_at"] is not None
    kinds = await db.rows("select kind, attempt, worker_id from htdag.events"
                          " where kind = 'task.started' and step_name = 'b'")
    assert kinds == [{"kind": "task.started", "attempt": 1, "worker_id": WORKER_A}]


async def test_a_queued_task_keeps_its_turn(store: Store, dsn: str) -> None:
    await start(store, flow_of("other", ("x", [])), None)  # x stays queued
    await start(store, flow_of("f", ("a", []), ("b", ["a"])), None)
    [a] = await claim(store, handlers=["h.a"])

    claimed, inserted, updated = await exchange_counting_writes(dsn, [a], 1)

    assert [t.step_name for t in claimed] == ["x"]  # queued first, claimed first
    assert (inserted, updated) == (1, 2)  # b queued; a completed, x claimed


@pytest.mark.parametrize(("limit", "handlers"), [(1, None), (10, ["h.a"])])
async def test_tasks_that_do_not_fit_are_queued(
        store: Store, dsn: str, limit: int, handlers: list[str] | None) -> None:
    await start(store, flow_of("f", ("a", []), ("m", ["a"], {"map": True})), None)
    [a] = await claim(store)

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(_EXCHANGE, (WORKER_A, [a.task_id], [a.claim_token],
                                             ["[1, 2, 3]"], limit, handlers))
        claimed = [ClaimedTask(*row) for row in await cur.fetchall()]
        cur = await conn.execute("select count(*) from htdag.tasks where status = 'queued'")
        queued: Any = await cur.fetchone()

    assert len(claimed) == (1 if handlers is None else 0)
    assert queued[0] == 3 - len(claimed)  # the map's three tasks did not fit: all queued,
    # then the claim took what it could


async def exchange_counting_calls(dsn: str, done: list[ClaimedTask], limit: int,
                                  output: str = "1"
                                  ) -> tuple[list[ClaimedTask], dict[str, int]]:
    """The exchange in one transaction: (claimed, calls of claim_tasks and the reaper)."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        async with conn.transaction():
            await conn.execute("set local track_functions = 'pl'")
            cur = await conn.execute(_EXCHANGE, (
                WORKER_A, [t.task_id for t in done], [t.claim_token for t in done],
                [output] * len(done), limit, None))
            claimed = [ClaimedTask(*row) for row in await cur.fetchall()]
            cur = await conn.execute(
                "select p.proname::text, coalesce(pg_stat_get_xact_function_calls(p.oid), 0)"
                " from pg_proc p where p.pronamespace = 'htdag'::regnamespace"
                " and p.proname in ('claim_tasks', '_reap_expired_tasks')")
            calls: Any = dict(await cur.fetchall())
    return claimed, calls


async def test_an_exchange_that_took_all_it_made_ready_claims_nothing_more(
        store: Store, dsn: str) -> None:
    await start(store, flow_of("f", ("a", []), ("b", ["a"])), None)
    [a] = await claim(store)

    claimed, calls = await exchange_counting_calls(dsn, [a], 10)

    assert [t.step_name for t in claimed] == ["b"]  # created started; no claim for more
    assert calls == {"claim_tasks": 0, "_reap_expired_tasks": 1}  # leases are checked


async def test_an_exchange_that_reaps_an_expired_lease_claims_as_well(
        store: Store, db: Db, dsn: str) -> None:
    await start(store, flow_of("f", ("a", []), ("b", ["a"])), None)
    [a] = await claim(store)
    stale = await start(store, flow_of("g", ("x", [], {"base_delay": 0, "max_delay": 0})), None)
    await claim(store, worker=WORKER_B)  # x: started elsewhere, then its lease expires
    await db.execute("update htdag.tasks set lease_expires_at = now() - interval '1 second'"
                     " where run_id = %s", (stale,))

    claimed, calls = await exchange_counting_calls(dsn, [a], 10)

    assert sorted(t.step_name for t in claimed) == ["b", "x"]  # x reaped, then claimed
    assert calls["claim_tasks"] == 1
    x = await db.task(stale, "x")
    assert (x["worker_id"], x["attempts_count"]) == (WORKER_A, 2)


async def test_an_exchange_that_queued_some_of_what_it_made_ready_claims(
        store: Store, dsn: str) -> None:
    await start(store, flow_of("f", ("a", []), ("b", ["a"]), ("m", ["a"], {"map": True})),
                None)
    [a] = await claim(store)

    # b fits the two free slots; m's three tasks do not: queued, then claimed by order
    claimed, calls = await exchange_counting_calls(dsn, [a], 2, output="[1, 2, 3]")

    assert calls["claim_tasks"] == 1
    assert sorted((t.step_name, t.task_index) for t in claimed) == [("b", 0), ("m", 0)]
