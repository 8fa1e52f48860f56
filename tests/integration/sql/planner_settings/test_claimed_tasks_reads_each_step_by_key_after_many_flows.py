"""_claimed_tasks' settings. plan_cache_mode = force_generic_plan: its query is
planned once per session, not on every claim (without it a chain step's
server work is about 1.4 times as much: benchmarks/compare_versions.py --work
chain). enable_seqscan = off: that plan is made while the tables are small,
and without it each claimed task's step is found by reading every flow's steps
once many flows are stored; with it, by its key (steps_pkey)."""

from __future__ import annotations

import pytest

from ..._support import flow_of
from ._plans import WARM_UP_CALLS, add_flow, explaining, start_run, without_planner_settings

CLAIM = "select array_agg(task_id) from htdag.claim_tasks(gen_random_uuid(), %s, null, 30)"
ASSEMBLE = "select count(*) from htdag._claimed_tasks(%s)"


def assemble_after_many_flows(dsn: str) -> str:
    """The plan of _claimed_tasks called as start_run and worker_exchange call it."""
    with explaining(dsn) as (plans, other):
        flow_hash = add_flow(other, flow_of("small", ("a", []), ("b", ["a"])))
        start_run(other, flow_hash, 1)
        other.execute("analyze")
        for call in range(WARM_UP_CALLS + 1):
            if call == WARM_UP_CALLS:
                for n in range(300):
                    add_flow(other, flow_of(f"flow{n}", *((f"s{i}", []) for i in range(5))))
            start_run(other, flow_hash, 1)
            ids = other.execute(CLAIM, (10,)).fetchone()
            plans.clear()
            plans.conn.execute(ASSEMBLE, ids)
        return plans.one("c.task_id, case when p_hedges")


def test_with_its_settings_each_step_is_read_by_its_key(dsn: str) -> None:
    plan = assemble_after_many_flows(dsn)

    assert "Index Scan using steps_pkey on steps s" in plan
    assert "Seq Scan" not in plan


@pytest.mark.parametrize("kept", [None, "plan_cache_mode = force_generic_plan"])
def test_without_enable_seqscan_every_flows_steps_are_read(dsn: str, kept: str | None) -> None:
    without_planner_settings(dsn, "_claimed_tasks", kept)

    plan = assemble_after_many_flows(dsn)

    assert "Seq Scan on steps s" in plan
