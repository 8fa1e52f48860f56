"""A claim first reaps tasks whose lease expired: the attempt is recorded as
lost, and the task is claimed again with a new token and attempt + 1."""

from __future__ import annotations

from htdag.core.store import Store

from ..._support import WORKER_A, WORKER_B, Db, claim, flow_of, start

EXPIRE = "update htdag.tasks set lease_expires_at = now() - interval '1 second'" \
         " where status = 'started'"


async def test_an_expired_lease_is_reaped_and_claimed_again_with_a_new_token(
        store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [], {"base_delay": 0, "max_delay": 0})), 1)
    [first] = await claim(store, worker=WORKER_A)
    await db.execute(EXPIRE)

    [second] = await claim(store, worker=WORKER_B)

    assert second.task_id == first.task_id
    assert second.claim_token != first.claim_token
    assert second.attempt == first.attempt + 1 == 2
    assert second.input == first.input
    row = await db.task(run_id, "a")
    assert row["worker_id"] == WORKER_B and row["claim_token"] == second.claim_token
    [attempt] = await db.attempts(run_id)
    assert (attempt["attempt"], attempt["outcome"], attempt["worker_id"]) == (
        1, "lost", WORKER_A)
    assert "lease expired" in attempt["error"]


async def test_a_reaped_task_waits_out_its_backoff(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [], {"base_delay": 60})), 1)
    await claim(store)
    await db.execute(EXPIRE)

    assert await claim(store, worker=WORKER_B) == []

    row = await db.task(run_id, "a")
    assert row["status"] == "queued" and row["claim_token"] is None
    assert row["available_at"] > await db.value("select now() + interval '29 seconds'")


async def test_an_expired_lease_on_the_last_attempt_fails_the_run(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [], {"max_attempts": 1})), 1)
    await claim(store)
    await db.execute(EXPIRE)

    assert await claim(store, worker=WORKER_B) == []

    run = await db.run(run_id)
    assert run["status"] == "failed"
    assert run["error"]["step"] == "a"
    assert "lease expired" in run["error"]["message"]
    assert (await db.task(run_id, "a"))["status"] == "failed"


async def test_a_lease_that_has_not_expired_is_left_alone(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), 1)
    [task] = await claim(store, lease=30)

    assert await claim(store, worker=WORKER_B) == []

    row = await db.task(run_id, "a")
    assert row["claim_token"] == task.claim_token and row["status"] == "started"
    assert await db.attempts(run_id) == []


async def test_expired_last_attempts_of_one_run_are_reaped_in_one_claim(
        store: Store, db: Db) -> None:
    # The first reaped task fails the run and cancels the others the reaper
    # has already picked: they must be skipped, not failed a second time.
    run_id = await start(store, flow_of("f", ("m", [], {"map": True, "max_attempts": 1})),
                         [1, 2, 3])
    other = await start(store, flow_of("g", ("a", [], {"base_delay": 0})), None)
    assert len(await claim(store)) == 4
    await db.execute(EXPIRE)

    [again] = await claim(store, worker=WORKER_B)

    assert again.run_id == other and again.attempt == 2
    assert (await db.run(run_id))["status"] == "failed"
    assert sorted(t["status"] for t in await db.tasks(run_id)) == [
        "cancelled", "cancelled", "failed"]
    assert [a["outcome"] for a in await db.attempts(run_id)] == ["lost"]


async def test_a_task_whose_workers_keep_dying_fails_at_max_attempts_saying_so(
        store: Store, db: Db) -> None:
    # A poison task that kills every worker that runs it: each lost attempt counts
    # from its start, so the third loss is the last, and the error says how often.
    run_id = await start(store, flow_of("f", ("a", [], {"max_attempts": 3, "base_delay": 0,
                                                         "max_delay": 0})), 1)
    for attempt in (1, 2, 3):
        [task] = await claim(store, worker=WORKER_A if attempt % 2 else WORKER_B)
        assert task.attempt == attempt
        await db.execute(EXPIRE)

    assert await claim(store, worker=WORKER_B) == []

    errors = [a["error"] for a in await db.attempts(run_id)]
    assert [e.split("(")[-1] for e in errors] == [
        "1 time for this task)", "2 times for this task)", "3 times for this task)"]
    assert all("the worker running it died or went silent" in e for e in errors)
    run = await db.run(run_id)
    assert run["status"] == "failed"
    assert run["error"]["message"].endswith("(3 times for this task) (attempt 3 of 3)")
    task_row = await db.task(run_id, "a")
    assert (task_row["status"], task_row["attempts_count"]) == ("failed", 3)
