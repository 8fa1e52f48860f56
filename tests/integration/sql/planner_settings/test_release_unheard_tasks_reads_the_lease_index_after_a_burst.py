"""release_unheard_tasks' settings (enable_seqscan = off, plan_cache_mode =
force_custom_plan): a session that released tasks while the tables were small
keeps a plan that reads every task (a seq scan; with enable_seqscan alone, a
walk of all of tasks_pkey) once a burst has filled the queue; with both, each
call is planned on the tables as they are and reads tasks_lease_idx, the
leases held."""

from __future__ import annotations

import pytest

from ..._support import WORKER_A, flow_of
from ._plans import (
    WARM_UP_CALLS,
    add_flow,
    explaining,
    queue_many_tasks,
    start_run,
    without_planner_settings,
)

CLAIM = "select array_agg(task_id) from htdag.claim_tasks(%s, 3, null, 30)"
RELEASE = "select htdag.release_unheard_tasks(%s, %s)"
LEASE_INDEX = "Index Scan using tasks_lease_idx on tasks t"


def release_after_a_burst(dsn: str) -> str:
    with explaining(dsn) as (plans, other):
        start_run(other, add_flow(other, flow_of("small", ("a", [], {"map": True}))), [1, 2, 3])
        [known] = other.execute(CLAIM, (WORKER_A,)).fetchone() or [None]
        other.execute("analyze")
        for _ in range(WARM_UP_CALLS):
            plans.conn.execute(RELEASE, (WORKER_A, known))
        queue_many_tasks(other)
        plans.clear()
        assert plans.conn.execute(RELEASE, (WORKER_A, known)).fetchone() == ([],)
        return plans.one("with unheard as")


def test_with_its_settings_it_reads_the_lease_index(dsn: str) -> None:
    plan = release_after_a_burst(dsn)

    assert LEASE_INDEX in plan and "Seq Scan on tasks t" not in plan


@pytest.mark.parametrize("kept", [None, "enable_seqscan = off",
                                  "plan_cache_mode = force_custom_plan"])
def test_without_either_it_reads_every_task(dsn: str, kept: str | None) -> None:
    without_planner_settings(dsn, "release_unheard_tasks", kept)

    plan = release_after_a_burst(dsn)

    assert LEASE_INDEX not in plan
