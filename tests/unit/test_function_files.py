"""Each layer's SQL reads as it is, not as it came to be: one function per file
under functions/, named after it, opening with its contract (a comment), and no
migration numbers or history in any baseline file."""

from __future__ import annotations

import re

from htdag.core.db import LAYERS

HISTORY = re.compile(r"\b0\d{3}\b|\bas in \d|\bused to\b|\bfrom before\b")


def test_each_file_defines_the_function_it_is_named_after() -> None:
    for layer in LAYERS:
        for f in layer.baseline():
            names = re.findall(r"^create or replace function htdag\.([a-z_0-9]+)\(", f.sql,
                               re.M)
            if names:
                assert names == [f.name], f"{f.name}.sql should define htdag.{f.name} (only)"


def test_each_function_file_opens_with_its_contract() -> None:
    for layer in LAYERS:
        for f in layer.baseline():
            if "create or replace function" in f.sql:
                assert f.sql.startswith("-- "), f"{f.name}.sql should open with its contract"


def test_no_baseline_file_tells_its_history() -> None:
    for layer in LAYERS:
        for f in layer.baseline():
            found = HISTORY.search(f.sql)
            assert found is None, f"{layer.name}: {f.name}.sql says {found[0]!r}: say what holds"


def test_each_layer_has_a_baseline_and_well_named_migrations() -> None:
    for layer in LAYERS:
        assert layer.baseline(), f"{layer.name} has no baseline"
        versions = [m.version for m in layer.migrations()]  # raises on a bad name
        assert versions == sorted(set(versions))
        assert layer.latest_version() >= 1
