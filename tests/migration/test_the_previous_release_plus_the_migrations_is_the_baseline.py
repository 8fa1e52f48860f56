"""A database built from the previous release's schema (htdag/core/sql/RELEASED),
then brought forward by this tree's migrations, has the catalogue of one built
from this tree's baseline: a migration that does not do what the baseline change
did (or a baseline not updated with a migration) fails here, with the diff."""

from __future__ import annotations

from pathlib import Path

import psycopg

from htdag.core.db import CORE, Layer

from ._catalogue import diff, dump
from .conftest import build_with_released_code, migrate

RUNS_COLUMNS = 19  # htdag.runs's columns in the baseline


def test_release_plus_migrations_has_the_catalogue_of_the_baseline(
        dsn: str, empty_dsn: str, tmp_path: Path) -> None:
    released = build_with_released_code(empty_dsn, tmp_path)
    migrate(empty_dsn)

    drift = diff(dump(dsn), dump(empty_dsn), "baseline", f"{released} + migrations")
    assert not drift, (
        "the migrations do not bring the released schema to this tree's baseline; "
        "change the baseline and add a migration that does the same:\n" + drift)


def test_both_are_recorded_at_the_latest_version(dsn: str, empty_dsn: str,
                                                 tmp_path: Path) -> None:
    build_with_released_code(empty_dsn, tmp_path)
    migrate(empty_dsn)
    query = "select layer, max(version) from htdag.migrations group by layer order by layer"
    with psycopg.connect(dsn) as fresh, psycopg.connect(empty_dsn) as migrated:
        assert fresh.execute(query).fetchall() == migrated.execute(query).fetchall()


def test_a_migration_the_baseline_lacks_shows_in_the_diff(dsn: str, empty_dsn: str,
                                                          core_copy: Path) -> None:
    (core_copy / "migrations").mkdir(exist_ok=True)
    next_version = CORE.latest_version() + 1
    (core_copy / "migrations" / f"{next_version:04d}_a_column.sql").write_text(
        "alter table htdag.runs add column label text;")
    migrate(empty_dsn)
    migrate(empty_dsn, (Layer("core", core_copy),))

    drift = diff(dump(dsn), dump(empty_dsn))
    assert [line for line in drift.splitlines() if "htdag.runs.label" in line] == [
        f"+column htdag.runs.label: text (position {RUNS_COLUMNS + 1})"]
