"""A run's start, while a worker is idle (its last exchange claimed fewer than
it asked for) and nothing is queued, creates its tasks started for that worker
(each written once) and sends them in a NOTIFY on htdag_push, input included;
the worker needs no claim of its own. Otherwise the tasks are queued and the
claim's order decides. Pushes never exceed the worker's free slots, a payload
too large for NOTIFY is not pushed, and a worker that missed pushes gives them
back."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from htdag.core.store import Completion, Store

from ..._support import WORKER_A, WORKER_B, Db, Notifications, flow_of, listening, start

HANDLERS = ["h.a", "h.b", "h.m"]


@pytest.fixture
async def notes(dsn: str) -> AsyncIterator[Notifications]:
    async with listening(dsn, "htdag_push", "htdag_tasks") as found:
        yield found


async def idle_worker(store: Store, worker: Any = WORKER_A, slots: int = 4) -> None:
    """A registered worker whose exchange found nothing: ``slots`` free slots."""
    await store.register_worker(worker, "host", 1, HANDLERS, slots, 30)
    assert await store.exchange(worker, [], [], slots, HANDLERS, 30, accept_pushes=True) == []


async def worker_row(db: Db, worker: Any = WORKER_A) -> dict[str, Any]:
    return await db.row("select idle_slots, tasks_pushed from htdag.workers where worker_id = %s",
                        (worker,))


async def test_a_started_run_is_pushed_with_its_input_to_the_idle_worker(
        store: Store, db: Db, notes: Notifications) -> None:
    await idle_worker(store)
    assert await worker_row(db) == {"idle_slots": 4, "tasks_pushed": 0}

    run_id = await start(store, flow_of("f", ("a", [])), {"q": 1})

    task = await db.task(run_id, "a")
    assert (task["status"], task["worker_id"], task["attempts_count"]) == (
        "started", WORKER_A, 1)
    [push] = await notes.drain()  # no wake-up: nothing was left queued
    assert push[0] == "htdag_push"
    payload = json.loads(push[1])
    assert payload["worker_id"] == str(WORKER_A)
    [pushed] = payload["tasks"]
    assert pushed["task_id"] == task["task_id"]
    assert pushed["claim_token"] == str(task["claim_token"])
    assert pushed["input"] == {"run": {"q": 1}}
    assert (pushed["step_name"], pushed["handler"], pushed["attempt"]) == ("a", "h.a", 1)
    assert await worker_row(db) == {"idle_slots": 3, "tasks_pushed": 1}
    # The pushed claim is an ordinary one: completing it with its token works.
    done = Completion(task["task_id"], task["claim_token"], "2")
    assert await store.complete_tasks([done]) == [task["task_id"]]


async def test_no_push_goes_to_a_busy_stopped_or_non_accepting_worker(
        store: Store, db: Db) -> None:
    await store.register_worker(WORKER_A, "host", 1, HANDLERS, 4, 30)
    # An exchange that does not accept pushes leaves the worker not idle.
    await store.exchange(WORKER_A, [], [], 4, HANDLERS, 30)
    await store.register_worker(WORKER_B, "host", 2, HANDLERS, 4, 30)
    await store.exchange(WORKER_B, [], [], 4, HANDLERS, 30, accept_pushes=True)
    await store.stop_worker(WORKER_B)

    run_id = await start(store, flow_of("f", ("a", [])), None)

    assert (await db.task(run_id, "a"))["status"] == "queued"


async def test_a_push_takes_at_most_the_free_slots_and_then_wakes_everyone(
        store: Store, db: Db, notes: Notifications) -> None:
    await idle_worker(store, slots=2)

    run_id = await start(store, flow_of("f", ("m", [], {"map": True})), [1, 2, 3, 4, 5])

    statuses = [t["status"] for t in await db.tasks(run_id)]
    assert statuses.count("started") == 2 and statuses.count("queued") == 3
    [push, wake] = await notes.drain()
    assert len(json.loads(push[1])["tasks"]) == 2
    assert wake == ("htdag_tasks", "")  # more is queued: every worker, this one too
    assert await worker_row(db) == {"idle_slots": 0, "tasks_pushed": 2}


async def test_an_exchange_counts_pushes_its_worker_had_not_heard_of(
        store: Store, db: Db) -> None:
    await idle_worker(store, slots=2)
    await start(store, flow_of("f", ("a", [])), None)  # pushed: one slot taken
    run_id = await start(store, flow_of("g", ("m", [], {"map": True})), [1, 2, 3])
    # (the second run went to the remaining slot)
    assert await worker_row(db) == {"idle_slots": 0, "tasks_pushed": 2}

    # The worker sent this exchange before it heard of either push: it offers its
    # two slots, and they are taken, so it claims nothing.
    assert await store.exchange(WORKER_A, [], [], 2, HANDLERS, 30, accept_pushes=True,
                                pushes_seen=0) == []
    # Having heard of both (and finished them, say), it claims the rest.
    claimed = await store.exchange(WORKER_A, [], [], 2, HANDLERS, 30, accept_pushes=True,
                                   pushes_seen=2)
    assert len(claimed) == 2
    assert sum(t["status"] == "queued" for t in await db.tasks(run_id)) == 0


async def test_a_payload_too_large_for_notify_is_not_pushed(
        store: Store, db: Db, notes: Notifications) -> None:
    await idle_worker(store)

    run_id = await start(store, flow_of("f", ("a", [])), "x" * 10_000)

    assert (await db.task(run_id, "a"))["status"] == "queued"
    assert await notes.drain() == [("htdag_tasks", "")]
    assert await worker_row(db) == {"idle_slots": 4, "tasks_pushed": 0}
    assert [e["kind"] for e in await db.rows(
        "select kind from htdag.events where kind like 'task.%%'")] == []


@pytest.mark.parametrize("roots", [("a", "b"), ("a", "b", "m")])
async def test_root_tasks_that_each_carry_the_input_are_not_pushed_over_the_limit(
        store: Store, db: Db, notes: Notifications, roots: tuple[str, ...]) -> None:
    # Each single root task's input is the whole run input: 4 KB each is too much
    # for one push together (which would fail the start), but it starts queued.
    await idle_worker(store, slots=8)

    run_id = await start(store, flow_of("wide", *[(r, []) for r in roots]),
                         {"text": "y" * 4_000})

    assert {t["status"] for t in await db.tasks(run_id)} == {"queued"}
    assert await notes.drain() == [("htdag_tasks", "")]
    assert await worker_row(db) == {"idle_slots": 8, "tasks_pushed": 0}


async def test_small_root_tasks_are_pushed_together(
        store: Store, db: Db, notes: Notifications) -> None:
    await idle_worker(store, slots=8)

    run_id = await start(store, flow_of("wide", ("a", []), ("b", []), ("m", [])),
                         {"text": "y" * 1_000})

    assert {t["status"] for t in await db.tasks(run_id)} == {"started"}
    [push] = await notes.drain()
    assert len(json.loads(push[1])["tasks"]) == 3 and len(push[1]) < 7_000


async def test_pushes_a_worker_never_heard_of_go_back_to_the_queue(
        store: Store, db: Db) -> None:
    await idle_worker(store)
    first = await start(store, flow_of("f", ("a", [])), None)
    second = await start(store, flow_of("g", ("a", [])), None)
    heard = (await db.task(first, "a"))["task_id"]

    released = await store.release_unheard_tasks(WORKER_A, [heard], 1)

    assert released == [(await db.task(second, "a"))["task_id"]]
    row = await db.task(second, "a")
    assert (row["status"], row["attempts_count"], row["worker_id"]) == ("queued", 0, None)
    assert (await db.task(first, "a"))["status"] == "started"
    assert (await worker_row(db))["tasks_pushed"] == 1  # no longer owed


async def test_a_stopping_worker_gives_back_what_was_pushed_to_it(
        store: Store, db: Db) -> None:
    await idle_worker(store)
    run_id = await start(store, flow_of("f", ("a", [])), None)

    await store.stop_worker(WORKER_A)

    assert (await db.task(run_id, "a"))["status"] == "queued"
    assert (await worker_row(db))["idle_slots"] == 0


async def start_counting_task_writes(dsn: str, flow: Any, input: Any) -> tuple[int, int]:
    """Starts a run in one transaction: (task rows inserted, task rows updated)."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        async with conn.transaction():
            await conn.execute("select htdag.add_flow(%s, %s::jsonb)",
                               (flow.hash, json.dumps(flow.to_definition())))
            await conn.execute("select htdag.start_run(%s, %s::jsonb)",
                               (flow.hash, json.dumps(input)))
            cur = await conn.execute(
                "select pg_stat_get_xact_tuples_inserted('htdag.tasks'::regclass),"
                " pg_stat_get_xact_tuples_updated('htdag.tasks'::regclass)")
            row: Any = await cur.fetchone()
    return row[0], row[1]


async def test_a_start_creates_the_tasks_it_pushes_started(
        store: Store, db: Db, dsn: str, notes: Notifications) -> None:
    await idle_worker(store, slots=4)

    writes = await start_counting_task_writes(dsn, flow_of("f", ("m", [], {"map": True})),
                                              [1, 2, 3])

    assert writes == (3, 0)  # inserted started; never updated
    [push] = await notes.drain()
    pushed = json.loads(push[1])["tasks"]
    assert [(t["task_index"], t["input"], t["attempt"]) for t in pushed] == [
        (0, 1, 1), (1, 2, 1), (2, 3, 1)]
    tasks = await db.rows("select task_id, status, worker_id, claim_token from htdag.tasks"
                          " order by task_id")
    assert [(t["status"], t["worker_id"]) for t in tasks] == [("started", WORKER_A)] * 3
    assert [t["claim_token"] for t in tasks] == [uuid.UUID(t["claim_token"]) for t in pushed]
    assert await worker_row(db) == {"idle_slots": 1, "tasks_pushed": 3}
    started = await db.rows("select task_index, attempt, worker_id, data from htdag.events"
                            " where kind = 'task.started' order by event_id")
    assert [e["task_index"] for e in started] == [0, 1, 2]
    assert (started[0]["attempt"], started[0]["worker_id"], started[0]["data"]) == (
        1, WORKER_A, {})


async def test_with_a_task_queued_before_them_the_claim_decides(
        store: Store, db: Db, dsn: str, notes: Notifications) -> None:
    queued_run = await start(store, flow_of("other", ("x", [])), None)  # h.x: no one has it
    await idle_worker(store, slots=4)
    assert (await db.task(queued_run, "x"))["status"] == "queued"
    await notes.drain()

    writes = await start_counting_task_writes(dsn, flow_of("f", ("a", [])), None)

    assert writes == (1, 0)  # inserted queued: not pushed
    assert await notes.drain() == [("htdag_tasks", "")]  # announced to every worker
    assert await worker_row(db) == {"idle_slots": 4, "tasks_pushed": 0}
    [claimed] = await store.exchange(WORKER_A, [], [], 4, HANDLERS, 30, accept_pushes=True)
    assert claimed.step_name == "a"
