"""hedge_straggler: the worker running a task past its step's hedge_after asks
for its second execution: for itself (it has a free slot), or pushed at once
(with a hedge token) to the idle worker with the most idle slots, never the
task's own; with none idle, every worker is woken to claim it. Stale claims,
hedged tasks and an empty budget get nothing, and a hedge push the worker never
heard of is dropped."""

from __future__ import annotations

import asyncio
import json
import uuid

from htdag.core.store import ClaimedTask, Store

from ..._support import (
    WORKER_A,
    WORKER_B,
    Db,
    Notifications,
    claim,
    complete,
    flow_of,
    start,
)
from ..start_run_push.test_pushes_ready_tasks_to_an_idle_worker import (
    HANDLERS,
    idle_worker,
    notes,
)
from .test_a_straggler_gets_a_second_execution import HEDGED, history

__all__ = ["notes"]  # the fixture


async def running_past_hedge_after(store: Store, history_attempts: int = 40) -> ClaimedTask:
    await history(store, history_attempts)
    await start(store, flow_of("f", HEDGED), [7])
    [first] = await claim(store, worker=WORKER_A)
    return first


async def test_the_hedge_is_pushed_to_the_idle_worker_with_the_most_slots(
        store: Store, db: Db, notes: Notifications) -> None:
    first = await running_past_hedge_after(store)
    await store.register_worker(WORKER_A, "host", 1, HANDLERS, 4, 30)
    await db.execute("update htdag.workers set idle_slots = 9 where worker_id = %s",
                     (WORKER_A,))  # the task's own worker: never its hedge's
    third = uuid.uuid4()
    await idle_worker(store, WORKER_B, slots=2)
    await idle_worker(store, third, slots=3)
    await notes.drain()
    await asyncio.sleep(0.06)

    token = await store.hedge_straggler(first.task_id, first.claim_token)

    task = await db.row("select hedge_token, hedge_worker_id, claim_token, worker_id"
                        " from htdag.tasks where task_id = %s", (first.task_id,))
    assert token is not None and task["hedge_token"] == token
    assert task["hedge_worker_id"] == third and task["worker_id"] == WORKER_A
    assert task["claim_token"] == first.claim_token
    [(channel, payload)] = await notes.drain()
    assert channel == "htdag_push"
    pushed = json.loads(payload)
    assert pushed["worker_id"] == str(third)
    [hedge] = [ClaimedTask.from_json(row) for row in pushed["tasks"]]
    assert (hedge.task_id, hedge.claim_token, hedge.input, hedge.hedge_after) == (
        first.task_id, token, first.input, None)
    worker = await db.row("select idle_slots, tasks_pushed from htdag.workers"
                          " where worker_id = %s", (third,))
    assert worker == {"idle_slots": 2, "tasks_pushed": 1}
    assert await complete(store, hedge, "hedge") == [first.task_id]
    assert await complete(store, first, "first") == []
    [event] = await db.rows("select worker_id from htdag.events where kind = 'task.hedged'")
    assert event["worker_id"] == third


async def test_with_no_idle_worker_every_worker_is_woken_to_claim_it(
        store: Store, db: Db, notes: Notifications) -> None:
    first = await running_past_hedge_after(store)
    await notes.drain()  # the starts' wake-ups
    await asyncio.sleep(0.06)

    assert await store.hedge_straggler(first.task_id, first.claim_token) is None

    assert await notes.drain() == [("htdag_tasks", "")]
    assert await db.value("select hedge_token from htdag.tasks where task_id = %s",
                          (first.task_id,)) is None
    [hedge] = await claim(store, worker=WORKER_B)
    assert hedge.task_id == first.task_id and hedge.claim_token != first.claim_token


async def test_a_stale_claim_a_hedged_task_or_an_empty_budget_gets_nothing(
        store: Store, db: Db, notes: Notifications) -> None:
    first = await running_past_hedge_after(store, history_attempts=19)  # budget: 0
    await idle_worker(store, WORKER_B)
    await notes.drain()
    await asyncio.sleep(0.06)

    assert await store.hedge_straggler(first.task_id, first.claim_token) is None
    await history(store, 21)  # 40 attempts: room for 2
    await notes.drain()
    assert await store.hedge_straggler(first.task_id, uuid.uuid4()) is None
    assert await notes.drain() == []
    assert await store.hedge_straggler(first.task_id, first.claim_token) is not None
    assert await store.hedge_straggler(first.task_id, first.claim_token) is None


async def test_a_hedge_push_its_worker_never_heard_of_is_dropped(
        store: Store, db: Db) -> None:
    first = await running_past_hedge_after(store)
    await idle_worker(store, WORKER_B)
    await asyncio.sleep(0.06)
    assert await store.hedge_straggler(first.task_id, first.claim_token) is not None

    assert await store.release_unheard_tasks(WORKER_B, [], 0) == []

    task = await db.row("select status, hedge_token, claim_token from htdag.tasks"
                        " where task_id = %s", (first.task_id,))
    assert (task["status"], task["hedge_token"], task["claim_token"]) == (
        "started", None, first.claim_token)
    assert await complete(store, first, "first") == [first.task_id]


async def test_here_the_asking_worker_gets_the_hedge_token_itself(
        store: Store, db: Db, notes: Notifications) -> None:
    """A worker with a free slot starts the second execution itself: the database
    gives it the hedge token, pushes nothing and wakes no one."""
    first = await running_past_hedge_after(store)
    await idle_worker(store, WORKER_B)
    await notes.drain()

    token = await store.hedge_straggler(first.task_id, first.claim_token, here=True)

    task = await db.row("select hedge_token, hedge_worker_id from htdag.tasks"
                        " where task_id = %s", (first.task_id,))
    assert token is not None and task == {"hedge_token": token, "hedge_worker_id": WORKER_A}
    assert await notes.drain() == []
    hedge = ClaimedTask(first.task_id, token, first.run_id, first.step_name, first.task_index,
                        first.handler, first.attempt, first.timeout, first.input)
    assert await complete(store, hedge, "hedge") == [first.task_id]
    [attempt] = await db.rows("select hedge, worker_id from htdag.attempts"
                              " where task_id = %s", (first.task_id,))
    assert attempt == {"hedge": "won", "worker_id": WORKER_A}
