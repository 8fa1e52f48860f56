"""The migration runner: a later migration file is applied exactly once, however
many processes connect at once; a fresh database gets the baseline, recorded at
the latest version (the baseline includes every migration's effect); a database
ahead of this package is left alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg

from htdag.core.db import CORE, Layer, apply_migrations

from .conftest import migrate

# Counts its own applications: applied twice, it would say 2.
LATER = """
insert into htdag.settings (key, value) values ('applications_of_later', '1')
on conflict (key) do update set value = to_jsonb(htdag.settings.value::int + 1);
"""
NEXT = CORE.latest_version() + 1
NEXT_NAME = f"{NEXT:04d}_a_later_change"


def with_later_migration(folder: Path) -> Layer:
    (folder / "migrations").mkdir(exist_ok=True)
    (folder / "migrations" / f"{NEXT_NAME}.sql").write_text(LATER)
    return Layer("core", folder)


def rows(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


async def test_concurrent_connects_apply_a_later_migration_exactly_once(
        dsn: str, core_copy: Path) -> None:
    layer = with_later_migration(core_copy)

    async def connect_and_migrate() -> list[str]:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            return await apply_migrations(conn, (layer,))

    applied = await asyncio.gather(*(connect_and_migrate() for _ in range(8)))

    assert sorted(applied) == [[]] * 7 + [[f"core:{NEXT_NAME}"]]
    assert rows(dsn, "select value from htdag.settings where key = 'applications_of_later'") == [
        (1,)]
    assert rows(dsn, "select version, name from htdag.migrations where layer = 'core'"
                     " order by version") == [(NEXT - 1, "baseline"), (NEXT, "a_later_change")]


def test_a_fresh_database_gets_the_baseline_recorded_at_the_latest_version(
        empty_dsn: str, core_copy: Path) -> None:
    layer = with_later_migration(core_copy)

    assert migrate(empty_dsn, (layer,)) == ["core:baseline"]

    assert rows(empty_dsn, "select layer, version, name from htdag.migrations") == [
        ("core", NEXT, "baseline")]
    # The migration did not run: its effect is the baseline's to include.
    assert rows(empty_dsn, "select 1 from htdag.settings where key = 'applications_of_later'"
                ) == []
    assert migrate(empty_dsn, (layer,)) == []


def test_a_database_ahead_of_this_package_is_left_alone(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("insert into htdag.migrations (layer, version, name) values ('core', 99, 'x')")

    assert migrate(dsn) == []
