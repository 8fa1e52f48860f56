"""The one place in Python that knows the planning layer's SQL (its tables and
functions in htdag/sql/planning): decompositions of goals into task graphs and
what they cost. The core's SQL is in htdag/core/store.py."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from .core.db import Database
from .core.engine import AsyncEngine
from .decomposers._record import DecompositionRecord


class PlanningStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def of(cls, engine: AsyncEngine) -> PlanningStore:
        """The planning store on an engine's database (and connection pool)."""
        return cls(engine.store.db)

    async def record_decomposition(self, goal: str, decomposer: str, graph: dict[str, Any],
                                   duration_ms: float, run_id: uuid.UUID | None,
                                   parent_run_id: uuid.UUID | None,
                                   record: DecompositionRecord | None = None) -> int:
        """Stores a decomposition and emits decomposition.completed; ``record``
        (from the decomposer) adds its attempts, tokens, cost and model."""
        r = record or DecompositionRecord()
        rows = await self.db.rows(
            "select htdag.record_decomposition(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " as id",
            (goal, decomposer, Jsonb(graph), duration_ms, run_id, parent_run_id,
             Jsonb(r.attempts), r.model, r.prompt_tokens, r.completion_tokens, r.cost_usd,
             r.model_ms))
        return int(rows[0]["id"])

    async def list_decompositions(self, run_id: uuid.UUID | None = None,
                                  limit: int = 50) -> list[dict[str, Any]]:
        """The latest decompositions (of one run, or all), newest first."""
        return await self.db.rows(
            "select * from htdag.decompositions where (%(run)s::uuid is null or run_id = %(run)s)"
            " order by decomposition_id desc limit %(limit)s", {"run": run_id, "limit": limit})
