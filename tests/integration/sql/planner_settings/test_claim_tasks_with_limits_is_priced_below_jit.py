"""A claim while concurrency limits exist: no statement it runs is priced past
jit_above_cost (100,000), which would have the server compile it on every claim
(about 45 ms where JIT is available). The scan of the limits runs in
_keys_at_limit, whose enable_seqscan = on undoes claim_tasks' off: before
PostgreSQL 18 a disabled seq scan is priced at 10^10, from 18 on it is marked
disabled instead (and no longer priced past JIT)."""

from __future__ import annotations

import re

import psycopg

from ..._support import flow_of
from ._plans import add_flow, explaining, start_run, without_planner_settings

CLAIM = "select count(*) from htdag.claim_tasks(gen_random_uuid(), %s, null, 30)"
JIT_ABOVE_COST = 100_000.0
LIMITS_SCAN = "select array_agg(l.key)"


def plans_of_a_claim_with_limits(dsn: str) -> list[str]:
    with explaining(dsn) as (plans, other):
        other.execute("select htdag.set_concurrency_limit('api', 2)")
        flow = flow_of("keyed", ("a", [], {"map": True, "concurrency_key": "api"}))
        start_run(other, add_flow(other, flow), list(range(20)))
        plans.clear()
        assert plans.conn.execute(CLAIM, (10,)).fetchone() == (2,)
        assert plans.logged
        return list(plans.logged)


def highest_cost(plans: list[str]) -> float:
    return max(float(m[1]) for p in plans for m in [re.search(r"cost=[\d.]+\.\.([\d.]+)", p)]
               if m)


def server_version(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.info.server_version


def test_no_statement_of_a_claim_with_limits_is_priced_past_jit(dsn: str) -> None:
    plans = plans_of_a_claim_with_limits(dsn)

    assert highest_cost(plans) < JIT_ABOVE_COST
    [limits] = [p for p in plans if LIMITS_SCAN in p]
    assert "Seq Scan on concurrency_limits" in limits and "Disabled: true" not in limits


def test_without_its_setting_the_scan_of_the_limits_is_disabled(dsn: str) -> None:
    without_planner_settings(dsn, "_keys_at_limit")  # claim_tasks' enable_seqscan = off

    plans = plans_of_a_claim_with_limits(dsn)

    [limits] = [p for p in plans if LIMITS_SCAN in p]
    if server_version(dsn) >= 180000:
        assert "Disabled: true" in limits
    else:
        assert highest_cost(plans) > JIT_ABOVE_COST
