"""The one place in Python that knows the plan cache's SQL (tables in
htdag/sql/planning/schema/02_plan_cache.sql, functions beside them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ..core.db import Database
from ..core.errors import from_db_error


@dataclass(frozen=True)
class Change:
    """An entry as the in-process index needs it."""

    entry_id: int
    state: str
    signature: str
    template: str


@dataclass(frozen=True)
class NewEntry:
    goal: str
    goal_key: str
    normalised: str
    template: str
    signature: str
    slots: list[dict[str, str]]
    graph: dict[str, Any]
    handlers: dict[str, str | None]
    catalogue_fp: str | None


_ENTRY_COLUMNS = ("entry_id, goal, slots, graph, handlers, min_score, hits, successes, "
                  "failures, state::text as state")


class CacheStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, entry: NewEntry, pending: bool, max_entries: int | None) -> int:
        """Stores an entry; a new one over ``max_entries`` evicts others."""
        rows = await self.db.rows(
            "select htdag.plan_cache_put(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) as id",
            (entry.goal, entry.goal_key, entry.normalised, entry.template, entry.signature,
             Jsonb(entry.slots), Jsonb(entry.graph), Jsonb(entry.handlers),
             entry.catalogue_fp, pending, max_entries))
        return int(rows[0]["id"])

    async def put_many(self, entries: Sequence[NewEntry], max_entries: int | None
                       ) -> list[int]:
        """Stores active entries in one transaction (see put), then evicts down
        to ``max_entries`` once."""
        ids = []
        try:
            async with self.db.pool.connection() as conn, conn.transaction():
                for e in entries:
                    cur = await conn.execute(
                        "select htdag.plan_cache_put(%s, %s, %s, %s, %s, %s, %s, %s, %s,"
                        " false, null)",
                        (e.goal, e.goal_key, e.normalised, e.template, e.signature,
                         Jsonb(e.slots), Jsonb(e.graph), Jsonb(e.handlers), e.catalogue_fp))
                    row = await cur.fetchone()
                    assert row is not None
                    ids.append(int(row[0]))
                if max_entries is not None:
                    await conn.execute("select htdag.plan_cache_evict(%s)", (max_entries,))
        except psycopg.Error as exc:
            raise from_db_error(exc) from exc
        return ids

    async def exact(self, goal_key: str) -> list[dict[str, Any]]:
        """Active entries of a normalised goal, newest first."""
        return await self.db.rows(
            f"select {_ENTRY_COLUMNS} from htdag.plan_cache"
            " where goal_key = %s and state = 'active' order by entry_id desc limit 5",
            (goal_key,))

    async def entries(self, entry_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Active entries by id (any order)."""
        return await self.db.rows(
            f"select {_ENTRY_COLUMNS} from htdag.plan_cache"
            " where entry_id = any(%s) and state = 'active'", (list(entry_ids),))

    async def hit(self, entry_id: int, graph: dict[str, Any], score: float, exact: bool,
                  goal: str) -> None:
        """Counts a hit and emits cache.hit, in one statement."""
        await self.db.rows("select htdag.plan_cache_hit(%s, %s, %s, %s, %s)",
                        (entry_id, Jsonb(graph), score, exact, goal))

    async def miss(self, data: dict[str, Any]) -> None:
        """Emits cache.miss with ``data`` (see htdag.plan_cache_miss)."""
        await self.db.rows("select htdag.plan_cache_miss(%s)", (Jsonb(data),))

    async def changes(self, after: int) -> tuple[int, list[Change]]:
        """The boundary to ask from next time and the entries changed since ``after``."""
        rows = await self.db.rows("select * from htdag.plan_cache_changes(%s)", (after,))
        boundary = int(rows[0]["boundary"]) if rows else after
        return boundary, [Change(int(r["entry_id"]), r["state"], r["signature"], r["template"])
                          for r in rows if r["entry_id"] is not None]

    async def counts(self) -> tuple[dict[str, int], int]:
        """Entries by state, and the evictions ever made."""
        rows = await self.db.rows(
            "select coalesce((select jsonb_object_agg(state, n) from (select state::text,"
            " count(*) as n from htdag.plan_cache group by state) s), '{}') as by_state,"
            " coalesce((select evictions from htdag.plan_cache_totals), 0) as evictions", ())
        return ({k: int(v) for k, v in rows[0]["by_state"].items()},
                int(rows[0]["evictions"]))

    async def entry(self, entry_id: int) -> dict[str, Any] | None:
        rows = await self.db.rows(
            "select *, state::text as state from htdag.plan_cache where entry_id = %s",
            (entry_id,))
        return rows[0] if rows else None
