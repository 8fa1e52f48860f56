"""A started task of a step with hedge_after, still running that long after its
start, gets a second execution from another worker's claim (within a budget of
5 % of its handler's recent attempts). The first outcome wins: the other
execution's completion is rejected (the task never completes twice), its
heartbeat no longer holds the task, and it is told to stop."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from htdag.core.store import ClaimedTask, Store

from ..._support import (
    WORKER_A,
    WORKER_B,
    Db,
    claim,
    complete,
    fail,
    flow_of,
    listening,
    start,
)

HEDGED: tuple[str, list[str], dict[str, Any]] = (
    "a", [], {"map": True, "hedge_after": 0.05, "base_delay": 0, "max_delay": 0})


async def history(store: Store, attempts: int = 40) -> None:
    """Completed attempts of h.a: the hedge budget is a share of them."""
    await start(store, flow_of("history", ("a", [], {"map": True})), list(range(attempts)))
    for task in await claim(store, limit=attempts, worker=WORKER_A):
        await complete(store, task, 0)


async def straggler(store: Store, tasks: int = 1) -> list[ClaimedTask]:
    await history(store)
    await start(store, flow_of("f", HEDGED), list(range(tasks)))
    first = await claim(store, worker=WORKER_A)
    await asyncio.sleep(0.06)
    return first


async def test_a_straggler_is_hedged_by_another_worker_only_after_hedge_after(
        store: Store, db: Db) -> None:
    await history(store)
    await start(store, flow_of("f", HEDGED), [1])
    [first] = await claim(store, worker=WORKER_A)
    assert await claim(store, worker=WORKER_B) == []  # too early

    await asyncio.sleep(0.06)
    assert await claim(store, worker=WORKER_A) == []  # never by its own worker
    [hedge] = await claim(store, worker=WORKER_B)

    assert hedge.task_id == first.task_id and hedge.attempt == first.attempt
    assert hedge.claim_token != first.claim_token and hedge.input == first.input
    assert await claim(store, worker=uuid.uuid4()) == []  # one hedge per task
    [event] = await db.rows("select attempt, worker_id from htdag.events"
                            " where kind = 'task.hedged'")
    assert (event["attempt"], event["worker_id"]) == (1, WORKER_B)


async def test_the_hedge_wins_and_the_first_executions_result_is_rejected(
        store: Store, db: Db, dsn: str) -> None:
    [first] = await straggler(store)
    [hedge] = await claim(store, worker=WORKER_B)

    async with listening(dsn, "htdag_cancel") as heard:
        assert await complete(store, hedge, "hedge") == [hedge.task_id]
        assert await heard.payloads("htdag_cancel") == [
            f"task:{hedge.task_id}:{hedge.claim_token}"]
    assert await complete(store, first, "first") == []

    task = await db.value("select output from htdag.tasks where task_id = %s", (first.task_id,))
    assert task == "hedge"
    [attempt] = await db.rows("select attempt, outcome, hedge, worker_id from htdag.attempts"
                              " where task_id = %s", (first.task_id,))
    assert (attempt["outcome"], attempt["hedge"], attempt["worker_id"]) == (
        "completed", "won", WORKER_B)
    assert await store.extend_leases(WORKER_A, [(first.task_id, first.claim_token)], 30) == set()


async def test_the_first_execution_wins_and_the_hedges_result_is_rejected(
        store: Store, db: Db) -> None:
    [first] = await straggler(store)
    [hedge] = await claim(store, worker=WORKER_B)
    # while both run, both extend the lease
    assert await store.extend_leases(WORKER_B, [(hedge.task_id, hedge.claim_token)], 30) == {
        hedge.task_id}

    assert await complete(store, first, "first") == [first.task_id]
    assert await complete(store, hedge, "hedge") == []

    [attempt] = await db.rows("select hedge, worker_id from htdag.attempts"
                              " where task_id = %s", (first.task_id,))
    assert (attempt["hedge"], attempt["worker_id"]) == ("lost", WORKER_A)
    assert await db.value("select count(*) from htdag.events where kind = 'task.completed'"
                          " and task_index = 0 and step_name = 'a' and run_id = ("
                          " select run_id from htdag.tasks where task_id = %s)",
                          (first.task_id,)) == 1


async def test_a_failure_first_retries_the_task_and_drops_the_other_execution(
        store: Store, db: Db) -> None:
    [first] = await straggler(store)
    [hedge] = await claim(store, worker=WORKER_B)

    await fail(store, hedge, "ConnectionError: reset")

    row = await db.rows("select status, hedge_token from htdag.tasks where task_id = %s",
                        (first.task_id,))
    assert row == [{"status": "queued", "hedge_token": None}]
    assert await complete(store, first, "late") == []
    [attempt] = await db.rows("select outcome, hedge from htdag.attempts where task_id = %s",
                              (first.task_id,))
    assert (attempt["outcome"], attempt["hedge"]) == ("failed", "won")


async def test_a_given_back_hedge_leaves_the_first_running_and_hedgeable(
        store: Store, db: Db) -> None:
    [first] = await straggler(store)
    [hedge] = await claim(store, worker=WORKER_B)

    assert await store.release_tasks([(hedge.task_id, hedge.claim_token)]) == [hedge.task_id]

    assert await db.value("select status from htdag.tasks where task_id = %s",
                          (first.task_id,)) == "started"
    [again] = await claim(store, worker=WORKER_B)
    assert again.task_id == first.task_id and again.claim_token != hedge.claim_token
    assert await complete(store, first, "first") == [first.task_id]


async def test_the_budget_caps_hedges_at_five_percent_of_recent_attempts(store: Store) -> None:
    first = await straggler(store, tasks=5)  # 40 recorded attempts: 2 hedges
    assert len(first) == 5

    hedges = await claim(store, worker=WORKER_B)

    assert len(hedges) == 2
    await complete(store, hedges[0], 1)  # recorded as hedged: still counts
    assert await claim(store, worker=WORKER_B) == []


async def test_without_hedge_after_nothing_is_hedged(store: Store) -> None:
    await history(store)
    await start(store, flow_of("f", ("a", [], {"map": True})), [1])
    await claim(store, worker=WORKER_A)
    await asyncio.sleep(0.06)

    assert await claim(store, worker=WORKER_B) == []
