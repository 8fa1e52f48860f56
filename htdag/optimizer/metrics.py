"""The one place the optimizer reads the database: recorded attempts as
:class:`Attempts` columns, concurrency limits, and the decisions it records
(htdag.attempt_metrics, htdag.concurrency_limits, htdag.optimizer_decisions)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..core.engine import AsyncEngine
from .samples import Attempts


async def read_attempts(engine: AsyncEngine, *, handler: str | None = None,
                        key: str | None = None, since: datetime | None = None,
                        limit: int = 10_000) -> Attempts:
    """The latest ``limit`` attempts of ``handler`` (or of concurrency ``key``)
    finished since ``since``, oldest first."""
    rows = await engine.store.attempt_metrics(handler, key, since, limit)
    return Attempts.from_rows([
        (r["task_id"], r["attempt"], r["outcome_class"], r["duration"], r["queue_wait"],
         r["started_at"].timestamp(), r["concurrency"], r["fingerprint"], r["step_name"],
         r["run_seconds"])
        for r in rows])


async def keys_with_attempts(engine: AsyncEngine, since: datetime | None = None) -> list[str]:
    """Concurrency keys that have recorded attempts or a limit."""
    rows = await engine.store.db.rows(
        "select distinct concurrency_key as key from htdag.attempts"
        " where concurrency_key is not null"
        "   and finished_at >= coalesce(%s::timestamptz, '-infinity')"
        " union select key from htdag.concurrency_limits order by 1", (since,))
    return [str(r["key"]) for r in rows]


async def record_decisions(engine: AsyncEngine, flow_hash: str | None, run_id: uuid.UUID | None,
                           decisions: Sequence[dict[str, Any]]) -> list[int]:
    """Stores decisions (as htdag.record_optimizer_decisions takes them) and emits
    optimizer.applied for each applied one."""
    if not decisions:
        return []
    value = await engine.store.db.value(
        "select htdag.record_optimizer_decisions(%s, %s, %s)",
        (flow_hash, run_id, Jsonb(list(decisions))))
    return [int(i) for i in value]


async def recorded_decisions(engine: AsyncEngine, *, flow_hash: str | None = None,
                             run_id: uuid.UUID | None = None, key: str | None = None,
                             limit: int = 1000) -> list[dict[str, Any]]:
    """Recorded decisions of a flow, a run or a concurrency key, oldest first."""
    return await engine.store.db.rows(
        "select * from (select * from htdag.optimizer_decisions"
        " where (%(flow)s::text is null or flow_hash = %(flow)s)"
        "   and (%(run)s::uuid is null or run_id = %(run)s)"
        "   and (%(key)s::text is null or concurrency_key = %(key)s)"
        " order by decision_id desc limit %(limit)s) d order by decision_id",
        {"flow": flow_hash, "run": run_id, "key": key, "limit": limit})


async def flow_of_run(engine: AsyncEngine, run_id: uuid.UUID) -> str | None:
    value = await engine.store.db.value("select flow_hash from htdag.runs where run_id = %s",
                                        (run_id,))
    return None if value is None else str(value)
