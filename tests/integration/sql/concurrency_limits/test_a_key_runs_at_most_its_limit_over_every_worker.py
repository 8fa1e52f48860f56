"""A concurrency key's limit is enforced by the claim, over every worker: tasks
of the key beyond it stay queued, tasks without a key are claimed past them,
and a finished task makes room for the next."""

from __future__ import annotations

from htdag.core.store import Completion, Store

from ..._support import WORKER_A, WORKER_B, Db, claim, complete, fail, flow_of, start

KEYED = ("m", [], {"map": True, "concurrency_key": "api", "base_delay": 0, "max_delay": 0})


async def running(db: Db) -> int:
    return int(await db.value("select count(*) from htdag.tasks"
                              " where concurrency_key = 'api' and status = 'started'"))


async def test_two_workers_together_claim_no_more_than_the_limit(store: Store, db: Db) -> None:
    await store.set_concurrency_limit("api", 3)
    await start(store, flow_of("f", KEYED), list(range(10)))

    first = await claim(store, limit=2, worker=WORKER_A)
    second = await claim(store, limit=10, worker=WORKER_B)
    third = await claim(store, limit=10, worker=WORKER_A)

    assert (len(first), len(second), third) == (2, 1, [])
    assert await running(db) == 3


async def test_a_finished_task_makes_room_for_the_next(store: Store, db: Db) -> None:
    await store.set_concurrency_limit("api", 2)
    await start(store, flow_of("f", KEYED), list(range(5)))
    a, b = await claim(store, worker=WORKER_A)

    await complete(store, a, 1)
    await fail(store, b)  # retried: queued again, no longer running

    assert [t.task_index for t in await claim(store, worker=WORKER_B)] == [1, 2]
    assert await running(db) == 2


async def test_tasks_without_a_key_are_claimed_past_a_full_key(store: Store) -> None:
    await store.set_concurrency_limit("api", 1)
    await start(store, flow_of("f", KEYED), list(range(50)))
    await start(store, flow_of("g", ("free", [])), None)

    claimed = await claim(store, limit=5)

    assert sorted(t.step_name for t in claimed) == ["free", "m"]


async def test_a_key_without_a_limit_and_a_removed_limit_do_not_hold_tasks_back(
        store: Store) -> None:
    await start(store, flow_of("f", KEYED), list(range(6)))
    assert await store.set_concurrency_limit("api", 1) is None
    assert len(await claim(store, limit=3)) == 1

    assert await store.set_concurrency_limit("api", None) == 1

    assert len(await claim(store, limit=10)) == 5
    assert await store.concurrency_limits() == {}


async def test_keyed_tasks_are_never_created_started_for_an_offer(store: Store, db: Db) -> None:
    """A worker's exchange takes the tasks its completion made ready, but not a
    keyed step's beyond the key's limit: the claim counts those."""
    await store.set_concurrency_limit("api", 1)
    flow = flow_of("f", ("a", []), ("b", ["a"], {"concurrency_key": "api"}),
                   ("c", ["a"], {"concurrency_key": "api"}), ("d", ["a"]))
    run_id = await start(store, flow, None)
    [a] = await claim(store)

    taken = await store.exchange(WORKER_A, [Completion(a.task_id, a.claim_token, "1")], [],
                                 claim_limit=10, handlers=None, lease_seconds=30)

    assert sorted(t.step_name for t in taken) in (["b", "d"], ["c", "d"])
    assert await running(db) == 1
    assert {r["step_name"]: r["concurrency_key"] for r in await db.rows(
        "select step_name, concurrency_key from htdag.tasks where run_id = %s", (run_id,))} == {
        "a": None, "b": "api", "c": "api", "d": None}
