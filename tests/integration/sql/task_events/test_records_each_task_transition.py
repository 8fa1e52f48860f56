"""The tasks and attempts triggers record task.started, task.completed,
task.retrying, task.released, task.failed and task.lost, in the order the
transitions happen; a cancelled task is told by its run's event."""

from __future__ import annotations

import json
import uuid

from htdag.core.store import Store

from ..._event_support import kinds_of, table_events, where
from ..._support import WORKER_A, WORKER_B, Db, claim, complete, fail, flow_of, start

NO_BACKOFF = {"base_delay": 0, "max_delay": 0}
EXPIRE = "update htdag.tasks set lease_expires_at = now() - interval '1 second'" \
         " where status = 'started'"


async def test_a_claimed_then_completed_task_records_started_then_completed(
        store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)
    [task] = await claim(store, worker=WORKER_A)
    await complete(store, task, "done")

    events = await table_events(db, run_id)
    assert where(events) == [
        ("run.started", None, None), ("step.started", "a", None),
        ("task.started", "a", 0), ("task.completed", "a", 0),
        ("step.completed", "a", None), ("run.completed", None, None)]
    # The attempt and the worker are columns; data holds what else a kind says.
    assert [(e["attempt"], e["worker_id"], e["data"]) for e in events[2:4]] == [
        (1, WORKER_A, {}), (1, None, {})]


async def test_the_tasks_of_a_map_step_are_recorded_in_index_order(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("m", [], {"map": True})), list(range(5)))
    tasks = await claim(store)
    await store.complete_tasks([])  # nothing: no event
    for task in reversed(tasks):  # completed last to first, one batch each
        await complete(store, task, task.task_index)

    events = where(await table_events(db, run_id))
    assert events[2:7] == [("task.started", "m", i) for i in range(5)]
    assert events[7:12] == [("task.completed", "m", i) for i in reversed(range(5))]
    assert events[12:] == [("step.completed", "m", None), ("run.completed", None, None)]


async def test_a_retryable_failure_records_task_retrying_then_the_next_attempt(
        store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [], NO_BACKOFF)), None)
    [first] = await claim(store)
    await fail(store, first, "flaky network")
    [second] = await claim(store, worker=WORKER_B)
    await complete(store, second, "ok")

    events = await table_events(db, run_id)
    assert kinds_of(events) == [
        "run.started", "step.started", "task.started", "task.retrying", "task.started",
        "task.completed", "step.completed", "run.completed"]
    retrying = events[3]
    assert (retrying["attempt"], retrying["data"]["error"]) == (1, "flaky network")
    assert retrying["data"]["available_at"] is not None
    assert (events[4]["attempt"], events[4]["worker_id"], events[4]["data"]) == (2, WORKER_B, {})


async def test_a_released_task_records_task_released_not_a_retry(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)
    [task] = await claim(store)
    assert await store.release_tasks([(task.task_id, task.claim_token)]) == [task.task_id]

    assert kinds_of(await table_events(db, run_id))[-2:] == ["task.started", "task.released"]


async def test_a_reaped_lease_records_task_lost_then_the_retry(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [], NO_BACKOFF)), None)
    await claim(store, worker=WORKER_A)
    await db.execute(EXPIRE)
    [again] = await claim(store, worker=WORKER_B)
    await complete(store, again, "ok")

    events = await table_events(db, run_id)
    assert kinds_of(events) == [
        "run.started", "step.started", "task.started", "task.lost", "task.retrying",
        "task.started", "task.completed", "step.completed", "run.completed"]
    lost = events[3]
    assert (lost["step_name"], lost["task_index"]) == ("a", 0)
    assert (lost["attempt"], lost["worker_id"]) == (1, WORKER_A)
    assert "lease expired" in lost["data"]["error"]
    assert events[5]["worker_id"] == WORKER_B


async def test_a_reaped_lease_on_the_last_attempt_records_lost_then_failed(
        store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [], {"max_attempts": 1})), None)
    await claim(store)
    await db.execute(EXPIRE)
    assert await claim(store, worker=WORKER_B) == []

    kinds = kinds_of(await table_events(db, run_id))
    assert kinds[:4] == ["run.started", "step.started", "task.started", "task.lost"]
    assert kinds[4] == "task.failed"
    assert sorted(kinds[5:]) == ["run.failed", "step.failed"]


async def test_a_non_retryable_failure_records_task_then_step_then_run_failed(
        store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)
    [task] = await claim(store)
    await fail(store, task, "bad input", retryable=False)

    assert kinds_of(await table_events(db, run_id)) == [
        "run.started", "step.started", "task.started", "task.failed", "step.failed",
        "run.failed"]


async def test_a_failed_task_records_its_error_and_attempt(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)
    [task] = await claim(store)
    await fail(store, task, "bad input", retryable=False)

    [failed] = [e for e in await table_events(db, run_id) if e["kind"] == "task.failed"]
    assert (failed["step_name"], failed["task_index"]) == ("a", 0)
    assert (failed["attempt"], failed["data"]) == (1, {"error": "bad input"})


async def test_cancelled_tasks_record_nothing_of_their_own(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("m", [], {"map": True})), [1, 2, 3])
    await claim(store, limit=2)
    await store.cancel_run(run_id)

    assert kinds_of(await table_events(db, run_id)) == [
        "run.started", "step.started", "task.started", "task.started", "run.cancelled"]


async def _waiting_parent(store: Store, db: Db, parent_attempts: int
                          ) -> tuple[uuid.UUID, uuid.UUID]:
    """A parent run whose task waits for a child run; returns (parent, child)."""
    parent_flow = flow_of("parent", ("plan", [], {"max_attempts": parent_attempts, **NO_BACKOFF}))
    child_flow = flow_of("child", ("work", [], {"max_attempts": 1}))
    parent = await start(store, parent_flow, None)
    [task] = await claim(store, handlers=["h.plan"])
    await store.add_flow(child_flow.hash, child_flow.to_definition())
    child = await store.start_run(child_flow.hash, json.dumps(None), parent, task.task_id)
    assert await store.wait_for_runs([(task.task_id, task.claim_token, child)]) == [task.task_id]
    assert (await db.task(parent, "plan"))["status"] == "waiting"
    return parent, child


async def test_a_waiting_task_records_task_completed_when_its_child_run_completes(
        store: Store, db: Db) -> None:
    parent, child = await _waiting_parent(store, db, parent_attempts=1)
    [work] = await claim(store, handlers=["h.work"])
    await complete(store, work, "child output")

    events = await table_events(db, parent)  # the parent's tree: child events included
    assert where([e for e in events if e["run_id"] == parent]) == [
        ("run.started", None, None), ("step.started", "plan", None),
        ("task.started", "plan", 0), ("subgoal.completed", None, None),
        ("task.completed", "plan", 0), ("step.completed", "plan", None),
        ("run.completed", None, None)]
    child_kinds = [e["kind"] for e in events if e["run_id"] == child]
    assert child_kinds[-1] == "run.completed"
    last_of_child = max(i for i, e in enumerate(events) if e["run_id"] == child)
    first_completion = next(i for i, e in enumerate(events) if e["kind"] == "task.completed"
                            and e["run_id"] == parent)
    assert last_of_child < first_completion


async def test_a_waiting_task_whose_child_run_fails_records_task_retrying(
        store: Store, db: Db) -> None:
    parent, _child = await _waiting_parent(store, db, parent_attempts=2)
    [work] = await claim(store, handlers=["h.work"])
    await fail(store, work, "child broke", retryable=False)

    assert (await db.task(parent, "plan"))["status"] == "queued"
    parent_events = [e for e in await table_events(db, parent) if e["run_id"] == parent]
    assert kinds_of(parent_events) == [
        "run.started", "step.started", "task.started", "subgoal.failed", "task.retrying"]
    retrying = parent_events[-1]
    assert retrying["task_index"] == 0 and retrying["attempt"] == 1
    assert "child broke" in retrying["data"]["error"]


async def test_a_waiting_task_whose_child_run_fails_on_its_last_attempt_records_task_failed(
        store: Store, db: Db) -> None:
    parent, _child = await _waiting_parent(store, db, parent_attempts=1)
    [work] = await claim(store, handlers=["h.work"])
    await fail(store, work, "child broke", retryable=False)

    kinds = kinds_of([e for e in await table_events(db, parent) if e["run_id"] == parent])
    assert kinds[:5] == ["run.started", "step.started", "task.started", "subgoal.failed",
                         "task.failed"]
    assert sorted(kinds[5:]) == ["run.failed", "step.failed"]
