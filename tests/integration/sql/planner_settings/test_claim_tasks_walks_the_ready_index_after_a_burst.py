"""claim_tasks' settings. enable_seqscan = off: a session whose claims cached
their plan while the queue was small keeps reading the whole queue (a seq scan
and a sort of every queued task) on every claim once a burst has filled it.
enable_bitmapscan = off: a claim of many tasks from a long queue (a worker's
free slots in a map) is otherwise planned as a bitmap scan of every ready task
and a sort. With both, a claim walks tasks_queued_idx in order and stops after
p_limit rows."""

from __future__ import annotations

from collections.abc import Callable

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

CLAIM = "select count(*) from htdag.claim_tasks(gen_random_uuid(), %s, null, 30)"
CLAIM_SELECT = "select array_agg(p.task_id)"
WALK = "Index Scan using tasks_queued_idx on tasks t"


def claim_after_a_burst(dsn: str) -> str:
    with explaining(dsn) as (plans, other):
        start_run(other, add_flow(other, flow_of("small", ("a", [], {"map": True}))), [1, 2])
        other.execute("analyze htdag.tasks")
        for _ in range(WARM_UP_CALLS):
            plans.conn.execute(CLAIM, (1,))
        queue_many_tasks(other)
        plans.clear()
        assert plans.conn.execute(CLAIM, (10,)).fetchone() == (10,)
        return plans.one(CLAIM_SELECT)


def claims_of_a_map(dsn: str) -> str:
    """Claims of 100 tasks at a time from 20,000 queued."""
    with explaining(dsn) as (plans, other):
        queue_many_tasks(other, runs=20, tasks=1000)
        for _ in range(3):
            plans.clear()
            assert plans.conn.execute(CLAIM, (100,)).fetchone() == (100,)
        return plans.one(CLAIM_SELECT)


@pytest.mark.parametrize("situation", [claim_after_a_burst, claims_of_a_map])
def test_with_its_settings_a_claim_walks_the_ready_index(
        dsn: str, situation: Callable[[str], str]) -> None:
    plan = situation(dsn)

    assert WALK in plan
    assert "Sort" not in plan and "Seq Scan" not in plan and "Bitmap" not in plan


def test_without_enable_seqscan_a_claim_scans_and_sorts_the_queue(dsn: str) -> None:
    without_planner_settings(dsn, "claim_tasks", "enable_bitmapscan = off")

    plan = claim_after_a_burst(dsn)

    assert "Seq Scan on tasks t" in plan
    assert "Sort Key: t.priority DESC, t.task_index, t.available_at" in plan


def test_without_enable_bitmapscan_a_claim_sorts_every_ready_task(dsn: str) -> None:
    without_planner_settings(dsn, "claim_tasks", "enable_seqscan = off")

    plan = claims_of_a_map(dsn)

    assert "Bitmap Heap Scan on tasks t" in plan
    assert "Sort Key: t.priority DESC, t.task_index, t.available_at" in plan
