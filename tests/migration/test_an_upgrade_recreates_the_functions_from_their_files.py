"""Functions, state rules and triggers are code: an upgrade re-creates them from
the layer's files, so a function lives in one file only (no migration repeats
it), a changed signature leaves no overload behind, and a function the tree no
longer has is gone."""

from __future__ import annotations

from pathlib import Path

import psycopg

from htdag.core.db import CORE, Layer

from .conftest import migrate

NEXT = CORE.latest_version() + 1


def functions(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select p.proname, pg_get_function_identity_arguments(p.oid) from pg_proc p"
            " join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'htdag'").fetchall()
    found: dict[str, list[str]] = {}
    for name, arguments in rows:
        found.setdefault(name, []).append(arguments)
    return found


def count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_an_upgrade_replaces_changed_functions_and_drops_removed_ones(
        dsn: str, core_copy: Path) -> None:
    triggers = "select count(*) from pg_trigger t join pg_class c on c.oid = t.tgrelid" \
               " join pg_namespace n on n.oid = c.relnamespace" \
               " where n.nspname = 'htdag' and not t.tgisinternal"
    rules = "select count(*) from pg_constraint where conname like '%state_rules'"
    before = (count(dsn, triggers), count(dsn, rules))
    assert before[0] > 0 and before[1] == 3
    (core_copy / "migrations").mkdir(exist_ok=True)
    (core_copy / "migrations" / f"{NEXT:04d}_code_only.sql").write_text("select 1;")
    (core_copy / "functions" / "_map_elements.sql").unlink()
    fits = core_copy / "functions" / "_fits_a_push.sql"
    fits.write_text(fits.read_text().replace(
        "p_input jsonb)", "p_input jsonb, p_limit int default 10)"))

    assert migrate(dsn, (Layer("core", core_copy),)) == [f"core:{NEXT:04d}_code_only"]

    found = functions(dsn)
    assert "_map_elements" not in found
    assert found["_fits_a_push"] == ["p_flow_hash text, p_roots text[], p_input jsonb, "
                                     "p_limit integer"]
    assert "record_event" in found  # the planning layer's, not migrated, is left alone
    assert (count(dsn, triggers), count(dsn, rules)) == before
