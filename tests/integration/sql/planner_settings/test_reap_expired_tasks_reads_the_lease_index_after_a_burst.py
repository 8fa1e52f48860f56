"""_reap_expired_tasks' enable_seqscan = off: a session (a worker's exchange)
whose reaper cached its plan while the tables were small keeps reading every
task (a seq scan and a sort by lease) on every call once a burst has filled the
queue; with the setting it reads only tasks_lease_idx, the leases held."""

from __future__ import annotations

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
REAP = "select htdag._reap_expired_tasks()"


def reap_after_a_burst(dsn: str) -> str:
    with explaining(dsn) as (plans, other):
        start_run(other, add_flow(other, flow_of("small", ("a", [], {"map": True}))), [1, 2])
        other.execute(CLAIM, (1,))
        other.execute("analyze htdag.tasks")
        for _ in range(WARM_UP_CALLS):
            plans.conn.execute(REAP)
        queue_many_tasks(other)
        other.execute(CLAIM, (100,))
        plans.clear()
        assert plans.conn.execute(REAP).fetchone() == (0,)
        return plans.one("lease_expires_at < now()")


def test_with_its_setting_the_reaper_reads_the_lease_index(dsn: str) -> None:
    plan = reap_after_a_burst(dsn)

    assert "Index Scan using tasks_lease_idx on tasks" in plan
    assert "Seq Scan" not in plan


def test_without_it_the_reaper_scans_every_task(dsn: str) -> None:
    without_planner_settings(dsn, "_reap_expired_tasks")

    plan = reap_after_a_burst(dsn)

    assert "Seq Scan on tasks" in plan
    assert "Sort Key: lease_expires_at" in plan
