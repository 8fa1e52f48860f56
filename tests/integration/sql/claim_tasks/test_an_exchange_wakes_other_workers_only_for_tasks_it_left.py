"""The NOTIFY on htdag_tasks says who made tasks ready. A worker's exchange sends
one only when its claim, in the same transaction, may have left some of the tasks
it made ready (the claim came back full, or a task is for a handler the worker
lacks); it names the worker, which ignores it. Anything else leaves the payload
empty (every worker wakes)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest

from htdag.core.store import Completion, Failure, Store

from ..._support import WORKER_A, Notifications, claim, complete, flow_of, listening, start


@pytest.fixture
async def wakeups(dsn: str) -> AsyncIterator[Notifications]:
    async with listening(dsn, "htdag_tasks") as found:
        yield found


async def test_an_exchange_that_claimed_what_it_made_ready_wakes_nobody(
        store: Store, wakeups: Notifications) -> None:
    await start(store, flow_of("f", ("a", []), ("b", ["a"]), ("c", ["b"])), None)
    assert await wakeups.payloads("htdag_tasks") == [""]  # start_run: for every worker

    [a] = await claim(store)
    assert await wakeups.payloads("htdag_tasks") == []  # a claim makes nothing ready

    claimed = await store.exchange(
        WORKER_A, [Completion(a.task_id, a.claim_token, "1")], [], 10, ["h.a", "h.b", "h.c"],
        30)

    assert [t.step_name for t in claimed] == ["b"]
    assert await wakeups.payloads("htdag_tasks") == []

    # A completion outside an exchange wakes everybody.
    [b] = claimed
    await complete(store, b, 2)
    assert await wakeups.payloads("htdag_tasks") == [""]


async def test_an_exchange_whose_claim_came_back_full_wakes_the_others(
        store: Store, wakeups: Notifications) -> None:
    await start(store, flow_of("f", ("a", []), ("b", ["a"]), ("c", ["a"])), None)
    await wakeups.payloads("htdag_tasks")
    [a] = await claim(store)

    claimed = await store.exchange(
        WORKER_A, [Completion(a.task_id, a.claim_token, "1")], [], 1, None, 30)

    assert len(claimed) == 1  # b or c is left for another worker
    assert await wakeups.payloads("htdag_tasks") == [str(WORKER_A)]


async def test_an_exchange_that_made_ready_a_task_it_has_no_handler_for_wakes_the_others(
        store: Store, wakeups: Notifications) -> None:
    await start(store, flow_of("f", ("a", []), ("b", ["a"])), None)
    await wakeups.payloads("htdag_tasks")
    [a] = await claim(store)

    claimed = await store.exchange(
        WORKER_A, [Completion(a.task_id, a.claim_token, "1")], [], 10, ["h.a"], 30)

    assert claimed == []
    assert await wakeups.payloads("htdag_tasks") == [str(WORKER_A)]


async def test_a_retry_requeued_by_an_exchange_wakes_every_worker(
        store: Store, wakeups: Notifications) -> None:
    await start(store, flow_of("f", ("a", [], {"max_attempts": 3})), None)
    await wakeups.payloads("htdag_tasks")
    [a] = await claim(store)

    await store.exchange(WORKER_A, [], [Failure(a.task_id, a.claim_token, "boom", True)], 0,
                         None, 30)

    # (A failure's retry is announced where it is requeued, to every worker.)
    assert await wakeups.payloads("htdag_tasks") == [""]


async def test_what_a_later_statement_of_the_exchange_s_transaction_makes_ready_wakes_everybody(
        store: Store, wakeups: Notifications, dsn: str) -> None:
    await start(store, flow_of("f", ("a", []), ("b", ["a"])), None)
    await wakeups.payloads("htdag_tasks")

    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        async with conn.transaction():
            cur = await conn.execute(
                "select task_id, claim_token from htdag.worker_exchange(%s, '{}', '{}', '{}',"
                " '{}', '{}', '{}', '{}', 10, null, 30)", (WORKER_A,))
            [(task_id, token)] = await cur.fetchall()
            # Not an exchange: its wake-up is for everybody, and nobody claimed b.
            await conn.execute("select htdag.complete_tasks(%s, %s, %s::jsonb[])",
                               ([task_id], [token], ["1"]))

    assert await wakeups.payloads("htdag_tasks") == [""]
    assert [t.step_name for t in await claim(store)] == ["b"]
