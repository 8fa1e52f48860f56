"""A claim while concurrency limits exist: no statement it runs is priced past
jit_above_cost (100,000), which would have the server compile it on every claim
(about 45 ms where JIT is available). The scan of the limits runs in
_keys_at_limit, whose enable_seqscan = on undoes claim_tasks' off, under which
that scan alone is priced at 10^10."""

from __future__ import annotations

import re

from ..._support import flow_of
from ._plans import add_flow, explaining, start_run, without_planner_settings

CLAIM = "select count(*) from htdag.claim_tasks(gen_random_uuid(), %s, null, 30)"
JIT_ABOVE_COST = 100_000.0


def costs_of_a_claim_with_limits(dsn: str) -> list[float]:
    with explaining(dsn) as (plans, other):
        other.execute("select htdag.set_concurrency_limit('api', 2)")
        flow = flow_of("keyed", ("a", [], {"map": True, "concurrency_key": "api"}))
        start_run(other, add_flow(other, flow), list(range(20)))
        plans.clear()
        assert plans.conn.execute(CLAIM, (10,)).fetchone() == (2,)
        totals = [float(m[1]) for p in plans.logged
                  for m in [re.search(r"cost=[\d.]+\.\.([\d.]+)", p)] if m]
        assert totals, plans.logged
        return totals


def test_no_statement_of_a_claim_with_limits_is_priced_past_jit(dsn: str) -> None:
    assert max(costs_of_a_claim_with_limits(dsn)) < JIT_ABOVE_COST


def test_without_its_setting_the_scan_of_the_limits_is(dsn: str) -> None:
    without_planner_settings(dsn, "_keys_at_limit")  # claim_tasks' enable_seqscan = off

    assert max(costs_of_a_claim_with_limits(dsn)) > JIT_ABOVE_COST
