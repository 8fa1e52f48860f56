"""Function files (sql/functions/<name>.sql) are applied after the numbered
migrations whenever those bring a database forward; a process of an older version
finds the database ahead of it and changes nothing, so it never puts older
functions back."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg

from htdag.core.db import apply_migrations, load_migrations

MARKER = "-- changed by a later version"


def sql_dir_of_a_later_version(tmp_path: Path) -> tuple[Path, int]:
    """A copy of sql/ with a next migration and a changed _task_events_on."""
    source = resources.files("htdag.core").joinpath("sql")
    target = tmp_path / "sql"
    with resources.as_file(source) as path:
        shutil.copytree(path, target)
    version = load_migrations()[-1].version + 1
    (target / f"{version:04d}_a_later_version.sql").write_text("-- what changed and why\n")
    changed = target / "functions" / "_task_events_on.sql"
    text = changed.read_text()
    assert "\nbegin\n" in text
    changed.write_text(text.replace("\nbegin\n", f"\nbegin\n    {MARKER}\n", 1))
    return target, version


async def function_source(conn: psycopg.AsyncConnection[Any], name: str) -> str:
    cur = await conn.execute("select prosrc from pg_proc where oid = %s::regproc",
                             (f"htdag.{name}",))
    row: Any = await cur.fetchone()
    return str(row[0])


async def test_a_database_brought_forward_gets_the_function_files(
        empty_dsn: str, tmp_path: Path) -> None:
    later, version = sql_dir_of_a_later_version(tmp_path)
    async with await psycopg.AsyncConnection.connect(empty_dsn, autocommit=True) as conn:
        await apply_migrations(conn)
        assert MARKER not in await function_source(conn, "_task_events_on")

        applied = await apply_migrations(conn, sql_dir=later)

        assert applied == [f"{version:04d}_a_later_version"]
        assert MARKER in await function_source(conn, "_task_events_on")
        cur = await conn.execute("select htdag._task_events_on()")
        assert await cur.fetchone() == (True,)  # and it still works


async def test_an_older_version_puts_no_function_back(empty_dsn: str, tmp_path: Path) -> None:
    later, _ = sql_dir_of_a_later_version(tmp_path)
    async with await psycopg.AsyncConnection.connect(empty_dsn, autocommit=True) as conn:
        await apply_migrations(conn, sql_dir=later)

        assert await apply_migrations(conn) == []  # this package's version is older

        assert MARKER in await function_source(conn, "_task_events_on")


async def test_a_new_database_gets_the_functions_of_the_files(empty_dsn: str,
                                                             tmp_path: Path) -> None:
    later, _ = sql_dir_of_a_later_version(tmp_path)
    async with await psycopg.AsyncConnection.connect(empty_dsn, autocommit=True) as conn:
        await apply_migrations(conn, sql_dir=later)
        assert MARKER in await function_source(conn, "_task_events_on")


async def test_up_to_an_older_version_applies_no_function_file(empty_dsn: str,
                                                               tmp_path: Path) -> None:
    later, version = sql_dir_of_a_later_version(tmp_path)
    async with await psycopg.AsyncConnection.connect(empty_dsn, autocommit=True) as conn:
        await apply_migrations(conn, up_to=version - 1, sql_dir=later)
        assert MARKER not in await function_source(conn, "_task_events_on")
