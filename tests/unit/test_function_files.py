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


SETTING = re.compile(r"(set_config|current_setting)\s*\(\s*'htdag\.")
LONGEST_BODY = 70  # lines: a function reads on one screen


def test_no_function_passes_values_through_transaction_settings() -> None:
    for layer in LAYERS:
        for f in layer.code():
            found = SETTING.search(f.sql)
            assert found is None, (
                f"{layer.name}: {f.name}.sql reads or writes an htdag.* setting; pass it as "
                "an argument and return the result instead")


def test_each_function_body_fits_on_one_screen() -> None:
    for layer in LAYERS:
        for f in layer.code():
            for body in re.findall(r"\bas \$\$\n(.*?)\n\$\$", f.sql, re.S):
                lines = len(body.splitlines())
                assert lines <= LONGEST_BODY, (
                    f"{layer.name}: {f.name}.sql has a body of {lines} lines; split it "
                    f"(at most {LONGEST_BODY})")
