"""prune_events(interval) deletes the events created longer ago than the
interval, keeps the newer ones, and returns how many it deleted."""

from __future__ import annotations

from ..._support import Db

INSERT = ("insert into htdag.events (kind, created_at)"
          " values ('optimizer.applied', now() - %s::interval)")


async def test_only_events_older_than_the_age_are_deleted(db: Db) -> None:
    for age in ("10 days", "8 days", "6 days", "1 hour", "0 seconds"):
        await db.execute(INSERT, (age,))

    assert await db.value("select htdag.prune_events('7 days')") == 2

    ages = await db.rows("select extract(day from now() - created_at)::int as days"
                         " from htdag.events order by event_id")
    assert [r["days"] for r in ages] == [6, 0, 0]
    assert await db.value("select htdag.prune_events('7 days')") == 0


async def test_pruning_with_no_age_deletes_everything_already_written(db: Db) -> None:
    for age in ("1 day", "1 second"):
        await db.execute(INSERT, (age,))

    assert await db.value("select htdag.prune_events('0 seconds')") == 2
    assert await db.value("select count(*) from htdag.events") == 0


async def test_event_ids_keep_growing_after_a_prune(db: Db) -> None:
    await db.execute(INSERT, ("1 day",))
    before = await db.value("select max(event_id) from htdag.events")
    await db.value("select htdag.prune_events('0 seconds')")

    await db.execute(INSERT, ("0 seconds",))

    assert await db.value("select max(event_id) from htdag.events") > before
