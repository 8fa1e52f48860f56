"""_task_events' enable_nestloop = off: the trigger's plan is cached with the
transition tables' sizes of its first calls (one row each), a nested loop, and
a later statement changing thousands of tasks pairs its old and new rows with
it, quadratic in the rows changed (a claim of 5,000 tasks takes seconds); with
the setting they are paired by a hash join."""

from __future__ import annotations

from ..._support import flow_of
from ._plans import WARM_UP_CALLS, add_flow, explaining, start_run, without_planner_settings

CLAIM = "select count(*) from htdag.claim_tasks(gen_random_uuid(), %s, null, 30)"


def claim_a_large_batch(dsn: str) -> str:
    with explaining(dsn) as (plans, other):
        flow_hash = add_flow(other, flow_of("map", ("m", [], {"map": True})))
        for _ in range(WARM_UP_CALLS):
            start_run(other, flow_hash, [1])
            plans.conn.execute(CLAIM, (1,))
        start_run(other, flow_hash, list(range(5000)))
        plans.clear()
        assert plans.conn.execute(CLAIM, (5000,)).fetchone() == (5000,)
        return plans.one("with appended as", "new_tasks")


def test_with_its_setting_old_and_new_rows_are_paired_by_hash(dsn: str) -> None:
    plan = claim_a_large_batch(dsn)

    assert "Hash Join" in plan and "Hash Cond: (n.task_id = o.task_id)" in plan
    assert "Nested Loop" not in plan


def test_without_it_they_are_paired_by_a_nested_loop(dsn: str) -> None:
    without_planner_settings(dsn, "_task_events")

    plan = claim_a_large_batch(dsn)

    assert "Nested Loop" in plan and "Hash Join" not in plan
