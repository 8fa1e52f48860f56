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
        ("task_index = -1", "tasks_task_index_check"),
        ("max_attempts = 0, attempts_count = 0", "tasks_max_attempts_check"),
        ("status = 'waiting', claim_token = gen_random_uuid()", "waiting_has_child"),
        ("status = 'failed', failed_at = now(), error = 'x', cancelled_at = now()",
         "cancelled_has_time"),
    ],
)
async def test_a_queued_task_cannot_be_made_inconsistent(
        store: Store, db: Db, change: str, constraint: str) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)

    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        await db.execute(f"update htdag.tasks set {change}")

    assert caught.value.diag.constraint_name == constraint
    assert caught.value.diag.table_name == "tasks"
    assert caught.value.diag.message_detail  # says what the rule wants
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
        ("depth = -1", "runs_depth_check"),
        ("max_tasks = 0", "runs_max_tasks_check"),
        ("status = 'completed', completed_at = now(), output = '1'", "completed_has_output"),
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
        (("status = 'completed', completed_at = now(), started_at = now(), initial_tasks = 1,"
          " remaining_tasks = null, output = '1'"), "completed_has_output"),
        ("remaining_deps = -1", "step_states_remaining_deps_check"),
        ("remaining_tasks = -1", "step_states_remaining_tasks_check"),
        ("initial_tasks = -1", "step_states_initial_tasks_check"),
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


async def test_an_inserted_task_is_checked_as_an_updated_one(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)

    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        await db.execute(
            "insert into htdag.tasks (run_id, root_run_id, step_name, task_index, handler,"
            " status, max_attempts, base_delay, max_delay)"
            " values (%s, %s, 'a', 1, 'h', 'started', 3, 1, 1)", (run_id, run_id))

    assert caught.value.diag.constraint_name == "started_has_lease"
