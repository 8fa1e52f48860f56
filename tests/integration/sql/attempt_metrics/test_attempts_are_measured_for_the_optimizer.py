"""attempt_metrics gives each recorded attempt its outcome class, duration,
queue wait, error fingerprint and the attempts running when it started;
handler_stats sums them up per handler; prune_attempts keeps what is recent."""

from __future__ import annotations

from htdag.core.store import Completion, Failure, Store

from ..._support import WORKER_B, Db, claim, complete, fail, flow_of, start

MAP = ("m", [], {"map": True, "base_delay": 0, "max_delay": 0})


async def test_each_attempt_has_its_class_fingerprint_and_concurrency(
        store: Store, db: Db) -> None:
    await start(store, flow_of("f", MAP), list(range(4)))
    first = await claim(store, limit=3)  # three start at one instant
    await complete(store, first[0], 0)
    [fourth] = await claim(store, limit=1, worker=WORKER_B)  # while two still run
    await fail(store, first[1], "ValueError: no row 17 for 3f2a9c1e-0000-4000-8000-00000000abcd")
    await complete(store, first[2], 2)
    await complete(store, fourth, 3)

    rows = await store.attempt_metrics("h.m", None, None, 100)

    by_index = {(r["task_id"], r["attempt"]): r for r in rows}
    assert len(rows) == 4
    assert [by_index[(t.task_id, 1)]["concurrency"] for t in first] == [3, 3, 3]
    assert by_index[(fourth.task_id, 1)]["concurrency"] == 3
    failed = by_index[(first[1].task_id, 1)]
    assert failed["outcome_class"] == "error"
    assert failed["fingerprint"] == "ValueError: no row # for <id>"
    assert {r["outcome_class"] for r in rows} == {"ok", "error"}
    assert all(r["duration"] >= 0 and r["queue_wait"] >= 0 for r in rows)
    assert [r["finished_at"] for r in rows] == sorted(r["finished_at"] for r in rows)


async def test_a_keys_attempts_are_found_by_the_key(store: Store) -> None:
    keyed = ("k", [], {"concurrency_key": "api"})
    await start(store, flow_of("f", keyed), None)
    [task] = await claim(store)
    await complete(store, task, 1)

    [row] = await store.attempt_metrics(None, "api", None, 10)

    assert (row["handler"], row["concurrency_key"], row["outcome_class"]) == ("h.k", "api", "ok")
    assert await store.attempt_metrics(None, "other", None, 10) == []


async def test_handler_stats_counts_outcomes_and_frequent_errors(store: Store) -> None:
    await start(store, flow_of("f", MAP), list(range(5)))
    tasks = await claim(store)
    for t in tasks[:3]:
        await complete(store, t, 1)
    await fail(store, tasks[3], "KeyError: 'a' at 1")
    await fail(store, tasks[4], "KeyError: 'a' at 2")

    [stats] = await store.handler_stats(None)

    assert stats["handler"] == "h.m"
    assert (stats["attempts"], stats["ok"], stats["errors"], stats["timeouts"]) == (5, 3, 2, 0)
    assert stats["failures"] == {"KeyError: 'a' at #": 2}
    assert 0 <= stats["p50"] <= stats["p99"] <= stats["p999"]


async def test_prune_attempts_deletes_only_old_ones(store: Store, db: Db) -> None:
    await start(store, flow_of("f", MAP), list(range(3)))
    for t in await claim(store):
        await complete(store, t, 1)
    await db.execute("update htdag.attempts set finished_at = now() - interval '40 days'"
                     " where attempt = 1 and task_id = (select min(task_id) from htdag.tasks)")

    assert await store.prune_attempts(None) == 1  # the 30-day retention setting
    assert await store.prune_attempts(3600.0) == 0
    assert await store.prune_attempts(0.0) == 2


async def test_each_attempt_keeps_how_long_its_handler_ran(store: Store) -> None:
    """A worker reports its handler's run time with each outcome, by the exchange or
    alone; an attempt reported without one has none (NULL)."""
    await start(store, flow_of("f", MAP), list(range(5)))
    tasks = await claim(store)
    await store.exchange(WORKER_B, [Completion(tasks[0].task_id, tasks[0].claim_token, "0",
                                               run_seconds=0.25)], [], 0, None, 30.0)
    await store.exchange(WORKER_B, [Completion(tasks[1].task_id, tasks[1].claim_token, "1",
                                               run_seconds=0.5)],
                         [Failure(tasks[2].task_id, tasks[2].claim_token, "boom", True,
                                  run_seconds=0.75)], 0, None, 30.0)
    await store.complete_tasks([Completion(tasks[3].task_id, tasks[3].claim_token, "3",
                                           run_seconds=1.5)])
    await complete(store, tasks[4], 4)

    rows = await store.attempt_metrics("h.m", None, None, 100)

    run = {r["task_id"]: r["run_seconds"] for r in rows}
    assert [run[t.task_id] for t in tasks] == [0.25, 0.5, 0.75, 1.5, None]


async def test_a_failure_reported_alone_keeps_its_run_time(store: Store) -> None:
    await start(store, flow_of("f", MAP), [0])
    [task] = await claim(store)
    await store.fail_tasks([Failure(task.task_id, task.claim_token, "boom", True,
                                    run_seconds=2.0)])

    [row] = await store.attempt_metrics("h.m", None, None, 100)

    assert (row["outcome_class"], row["run_seconds"]) == ("error", 2.0)
