"""The catalogue of the htdag schema as text: what the migration tests compare.

    .venv/bin/python tests/migration/_catalogue.py URL          # the dump
    .venv/bin/python tests/migration/_catalogue.py URL_A URL_B  # their diff

One line per fact (enum labels, tables and their options, columns with type,
default, NOT NULL, identity and statistics target, constraints and indexes with
their definitions, triggers, sequences, the settings rows, functions), sorted
within each section, so that two databases built differently compare with a
plain unified diff. Function definitions come from ``pg_get_functiondef`` with
comments and whitespace normalised: a comment is not a change of schema.
"""

from __future__ import annotations

import difflib
import re
import sys

import psycopg

SCHEMAS = ("htdag",)
# The migration runner's own bookkeeping, not part of any layer's schema.
IGNORED_TABLES = ("migrations",)

QUERIES: dict[str, str] = {
    "enum": """
        select format('%s.%s: %s', n.nspname, t.typname,
                      string_agg(e.enumlabel, ', ' order by e.enumsortorder))
        from pg_type t join pg_namespace n on n.oid = t.typnamespace
        join pg_enum e on e.enumtypid = t.oid
        where n.nspname = any(%(schemas)s::text[]) group by n.nspname, t.typname""",
    "type": """
        select format('%s.%s kind=%s', n.nspname, t.typname, t.typtype)
        from pg_type t join pg_namespace n on n.oid = t.typnamespace
        where n.nspname = any(%(schemas)s::text[]) and t.typtype in ('d', 'c', 'r')
          and not exists (select from pg_class c where c.reltype = t.oid and c.relkind <> 'c')""",
    "table": """
        select format('%s kind=%s persistence=%s options=%s', c.oid::regclass, c.relkind,
                      c.relpersistence, coalesce(c.reloptions::text, '{}'))
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any(%(schemas)s::text[]) and c.relkind in ('r', 'p', 'v', 'm', 'f')
          and c.relname <> all(%(ignored)s::text[])""",
    "column": """
        select format('%s.%s: %s%s%s%s%s%s', c.oid::regclass, a.attname,
                      format_type(a.atttypid, a.atttypmod),
                      case when a.attnotnull then ' not null' else '' end,
                      coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''),
                      case a.attidentity when '' then ''
                           else ' identity ' || a.attidentity::text end,
                      case a.attgenerated when '' then ''
                           else ' generated ' || a.attgenerated::text end,
                      case when coalesce(a.attstattarget::int, -1) >= 0
                           then ' statistics ' || a.attstattarget else '' end)
                      || format(' (position %s)', row_number() over (
                             partition by c.oid order by a.attnum))
        from pg_attribute a join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where n.nspname = any(%(schemas)s::text[]) and c.relkind in ('r', 'p', 'v', 'm', 'f')
          and c.relname <> all(%(ignored)s::text[]) and a.attnum > 0 and not a.attisdropped""",
    "constraint": """
        select format('%s %s: %s%s', c.conrelid::regclass, c.conname,
                      pg_get_constraintdef(c.oid),
                      case when c.condeferrable then ' deferrable' else '' end)
        from pg_constraint c join pg_namespace n on n.oid = c.connamespace
        where n.nspname = any(%(schemas)s::text[])
          and c.conrelid::regclass::text <> all(%(ignored_tables)s::text[])""",
    "index": """
        select pg_get_indexdef(i.indexrelid)
        from pg_index i join pg_class c on c.oid = i.indexrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any(%(schemas)s::text[])
          and i.indrelid::regclass::text <> all(%(ignored_tables)s::text[])""",
    "trigger": """
        select format('%s %s', pg_get_triggerdef(t.oid),
                      case t.tgenabled when 'O' then '' else 'enabled=' || t.tgenabled::text end)
        from pg_trigger t join pg_class c on c.oid = t.tgrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any(%(schemas)s::text[]) and not t.tgisinternal""",
    "sequence": """
        select format('%s.%s %s start=%s increment=%s min=%s max=%s cache=%s cycle=%s',
                      s.schemaname, s.sequencename, s.data_type, s.start_value,
                      s.increment_by, s.min_value, s.max_value, s.cache_size, s.cycle)
        from pg_sequences s where s.schemaname = any(%(schemas)s::text[])""",
    "comment": """
        select format('%s: %s', d.classoid::regclass || ' ' || d.objoid || '.' || d.objsubid,
                      d.description)
        from pg_description d join pg_class c on c.oid = d.objoid
        join pg_namespace n on n.oid = c.relnamespace
        where d.classoid = 'pg_class'::regclass and n.nspname = any(%(schemas)s::text[])""",
    # The rows a baseline inserts (engine settings) are part of the schema too.
    "row": """
        select format('htdag.settings %s = %s', key, value) from htdag.settings""",
    "function": """
        select pg_get_functiondef(p.oid)
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any(%(schemas)s::text[])""",
}


def normalise_function(definition: str) -> str:
    """A function's definition without comments and with whitespace collapsed
    (comments inside string literals do not occur in htdag's functions)."""
    text = re.sub(r"/\*.*?\*/", " ", definition, flags=re.S)
    text = re.sub(r"--[^\n]*", " ", text)
    return " ".join(text.split())


def dump(url: str, schemas: tuple[str, ...] = SCHEMAS) -> str:
    """The catalogue of ``schemas`` in the database at ``url``, as sorted lines."""
    lines: list[str] = []
    params = {"schemas": list(schemas), "ignored": list(IGNORED_TABLES),
              "ignored_tables": [f"{s}.{t}" for s in schemas for t in IGNORED_TABLES]}
    with psycopg.connect(url, autocommit=True) as conn:
        for section, query in QUERIES.items():
            # format()'s %s are literal here: psycopg takes %% for a percent sign.
            rows = [str(row[0]) for row in
                    conn.execute(query.replace("%s", "%%s"), params).fetchall()]
            if section == "function":
                rows = [normalise_function(row) for row in rows]
            lines.extend(f"{section} {row}" for row in sorted(rows))
    return "\n".join(lines) + "\n"


def diff(expected: str, actual: str, expected_name: str = "baseline",
         actual_name: str = "migrated") -> str:
    """A unified diff of two dumps; empty when they are the same."""
    return "".join(difflib.unified_diff(expected.splitlines(keepends=True),
                                        actual.splitlines(keepends=True),
                                        expected_name, actual_name, n=1))


if __name__ == "__main__":
    if len(sys.argv) == 3:
        print(diff(dump(sys.argv[1]), dump(sys.argv[2]), sys.argv[1], sys.argv[2]), end="")
    else:
        print(dump(sys.argv[1]), end="")
