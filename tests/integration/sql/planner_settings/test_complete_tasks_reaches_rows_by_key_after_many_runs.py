"""complete_tasks' settings. plan_cache_mode = force_generic_plan: its
statements, and those of the functions it calls, are planned once per session,
not on every call (without it a chain step's server work is about 1.9 times
as much: benchmarks/compare_versions.py --work chain). enable_seqscan = off:
those generic plans are made while the tables are small, and without it they
read whole tables (tasks, runs, step states) on every completion once many
runs have been started; with it they reach the rows by their keys."""

from __future__ import annotations

import pytest

from ..._support import flow_of
from ._plans import (
    WARM_UP_CALLS,
    add_flow,
    explaining,
    queue_many_tasks,
    start_run,
    without_planner_settings,
)

CLAIM = "select task_id, claim_token from htdag.claim_tasks(gen_random_uuid(), 1, null, 30)"
COMPLETE = "select done from htdag.complete_tasks(%s, %s, %s::jsonb[])"
TABLES = ("tasks", "runs", "step_states")


def complete_after_many_runs(dsn: str) -> list[str]:
    """The plans of one completion's statements, after a burst of runs."""
    with explaining(dsn) as (plans, other):
        flow_hash = add_flow(other, flow_of("chain", ("a", []), ("b", ["a"])))
        start_run(other, flow_hash, 1)
        other.execute("analyze")
        for call in range(WARM_UP_CALLS + 1):
            if call == WARM_UP_CALLS:
                queue_many_tasks(other, runs=500, tasks=10)
            start_run(other, flow_hash, 1)
            task_id, token = other.execute(CLAIM).fetchone() or (None, None)
            plans.clear()
            [done] = plans.conn.execute(COMPLETE, ([task_id], [token], ["1"])).fetchone() or [None]
            assert done == [task_id]
        return plans.logged


def scans(plans: list[str]) -> list[str]:
    return [f"Seq Scan on {table}" for table in TABLES
            if any(f"Seq Scan on {table} " in plan for plan in plans)]


def test_with_its_settings_a_completion_scans_no_table(dsn: str) -> None:
    plans = complete_after_many_runs(dsn)

    assert any("Index Scan using step_states_pkey" in plan for plan in plans)
    assert scans(plans) == []


@pytest.mark.parametrize("kept", [None, "plan_cache_mode = force_generic_plan"])
def test_without_enable_seqscan_the_cached_plans_scan_whole_tables(
        dsn: str, kept: str | None) -> None:
    without_planner_settings(dsn, "complete_tasks", kept)

    plans = complete_after_many_runs(dsn)

    # (Which of the big tables a plan reads whole depends on the statistics of the
    # moment; that one of them is read whole is what the setting prevents.)
    assert {"Seq Scan on tasks", "Seq Scan on step_states"} & set(scans(plans))
