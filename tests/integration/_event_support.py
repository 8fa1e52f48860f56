"""Helpers for the events tests: the event table as the source of truth."""

from __future__ import annotations

import uuid
from typing import Any

from ._support import Db

STREAM_ORDER = "order by tx_id, event_id"


async def table_events(db: Db, root_run_id: uuid.UUID | None = None,
                       run_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """The events in stream order (transaction, then id), optionally of one tree or run."""
    return await db.rows(
        "select event_id, tx_id::text::bigint as tx_id, kind, run_id, root_run_id, step_name,"
        " task_index, attempt, worker_id, data from htdag.events"
        " where (%(root)s::uuid is null or root_run_id = %(root)s)"
        " and (%(run)s::uuid is null or run_id = %(run)s) " + STREAM_ORDER,
        {"root": root_run_id, "run": run_id})


async def table_ids(db: Db, root_run_id: uuid.UUID | None = None) -> list[int]:
    return [r["event_id"] for r in await table_events(db, root_run_id)]


def kinds_of(rows: list[dict[str, Any]]) -> list[str]:
    return [r["kind"] for r in rows]


def where(rows: list[dict[str, Any]]) -> list[tuple[str, str | None, int | None]]:
    """(kind, step, task index) of each event row."""
    return [(r["kind"], r["step_name"], r["task_index"]) for r in rows]


async def last_event_id(db: Db) -> int:
    return int(await db.value("select coalesce(max(event_id), 0) from htdag.events"))
