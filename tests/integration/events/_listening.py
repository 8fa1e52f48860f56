"""Helpers for the listen() tests: collecting a stream, knowing when a listener
is subscribed, and finding the engine's LISTEN connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from htdag.core.engine import AsyncEngine
from htdag.notifications import Event
from htdag.notifications.hub import hub_for

from .._support import Db, eventually

LISTEN_CONNECTIONS = ("select pid from pg_stat_activity where datname = current_database()"
                      " and query ilike 'listen%%'")


async def collect(stream: AsyncIterator[Event], until: Callable[[Event], bool] | None = None,
                  count: int | None = None, timeout: float = 10.0) -> list[Event]:
    """Events of a stream until one satisfies ``until`` (included), ``count`` of
    them, or the stream ends; fails after ``timeout``."""
    got: list[Event] = []

    async def run() -> None:
        async for event in stream:
            got.append(event)
            if (until is not None and until(event)) or (count is not None and len(got) >= count):
                return

    try:
        await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        raise AssertionError(f"stream incomplete after {timeout}s; got {len(got)} events: "
                             f"{[str(e) for e in got[-5:]]}") from None
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    return got


def subscriber_count(engine: AsyncEngine) -> int:
    return len(hub_for(engine)._subscribers)


async def subscribed(engine: AsyncEngine, count: int = 1) -> None:
    """Waits until ``count`` listeners of this engine are registered with its hub."""
    await eventually(lambda: subscriber_count(engine) >= count)


def ids(events: list[Event]) -> list[int]:
    return [e.id for e in events]


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


def of_run(events: list[Event], run_id: Any) -> list[Event]:
    return [e for e in events if e.run_id == run_id]


async def listen_pids(db: Db) -> list[int]:
    return [r["pid"] for r in await db.rows(LISTEN_CONNECTIONS)]
