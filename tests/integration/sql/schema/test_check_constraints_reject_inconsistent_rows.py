"""The tables enforce the state machine: a row whose status lacks the columns
it needs (or has ones it must not) is rejected by a named CHECK constraint."""

from __future__ import annotations

import psycopg
import pytest

from htdag.core.store import Store

from ..._support import Db, claim, flow_of, start


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ("status = 'started'", "started_has_lease"),
        ("claim_token = gen_random_uuid(), lease_expires_at = now()", "started_has_lease"),
        ("status = 'completed', completed_at = now()", "completed_has_output"),
        ("status = 'completed', output = '1'", "completed_has_output"),
        ("status = 'failed', failed_at = now()", "failed_has_error"),
        ("status = 'cancelled'", "cancelled_has_time"),
        ("attempts_count = 4", "attempts_within_limit"),
        ("attempts_count = -1", "tasks_attempts_count_check"),
    ],
)
async def test_a_queued_task_cannot_be_made_inconsistent(
        store: Store, db: Db, change: str, constraint: str) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)

    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        await db.execute(f"update htdag.tasks set {change}")

    assert caught.value.diag.constraint_name == constraint
    assert (await db.task(run_id, "a"))["status"] == "queued"


async def test_a_started_task_must_keep_its_claim_token(store: Store, db: Db) -> None:
    await start(store, flow_of("f", ("a", [])), None)
    await claim(store)

    with pytest.raises(psycopg.errors.CheckViolation, match="started_has_lease"):
        await db.execute("update htdag.tasks set claim_token = null")


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ("status = 'completed', completed_at = now()", "completed_has_output"),
        ("status = 'failed', failed_at = now()", "failed_has_error"),
        ("status = 'cancelled'", "cancelled_has_time"),
        ("remaining_steps = -1", "runs_remaining_steps_check"),
    ],
)
async def test_a_run_cannot_be_made_inconsistent(
        store: Store, db: Db, change: str, constraint: str) -> None:
    await start(store, flow_of("f", ("a", []), ("b", ["a"])), None)

    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        await db.execute(f"update htdag.runs set {change}")

    assert caught.value.diag.constraint_name == constraint


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ("status = 'started'", "started_has_tasks"),
        ("status = 'failed', failed_at = now()", "failed_has_error"),
        (("status = 'completed', completed_at = now(), started_at = now(), initial_tasks = 1,"
          " remaining_tasks = 1, output = '1'"), "completed_has_output"),
    ],
)
async def test_a_step_state_cannot_be_made_inconsistent(
        store: Store, db: Db, change: str, constraint: str) -> None:
    await start(store, flow_of("f", ("a", []), ("b", ["a"])), None)

    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        await db.execute(f"update htdag.step_states set {change} where step_name = 'b'")

    assert caught.value.diag.constraint_name == constraint


async def test_a_map_step_with_two_dependencies_cannot_be_stored(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []), ("b", []))
    await store.add_flow(flow.hash, flow.to_definition())

    with pytest.raises(psycopg.errors.CheckViolation, match="map_has_at_most_one_dep"):
        await db.execute("insert into htdag.steps (flow_hash, step_name, step_index, kind,"
                         " handler, deps_count) values (%s, 'm', 2, 'map', 'h', 2)", (flow.hash,))
