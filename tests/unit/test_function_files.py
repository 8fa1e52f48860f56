"""The function files (htdag/core/sql/functions) go with a migration version: a
change to them comes with a new numbered migration and a line in versions.txt,
or a process of the same version with other functions could put its own back."""

from __future__ import annotations

import re
from importlib import resources

from htdag.core.db import functions_checksum, load_function_files, load_migrations

VERSIONS = resources.files("htdag.core").joinpath("sql", "functions", "versions.txt")


def recorded() -> list[tuple[int, str]]:
    lines = [line.split() for line in VERSIONS.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    return [(int(version), checksum) for version, checksum in lines]


def test_the_last_recorded_checksum_is_that_of_the_function_files() -> None:
    versions = recorded()
    latest = load_migrations()[-1].version
    current = functions_checksum(load_function_files())
    last_version, last_checksum = versions[-1]
    if current != last_checksum:
        hint = (f"append the line '{latest:04d} {current}' to {VERSIONS}"
                if latest > last_version else
                f"add a numbered migration {last_version + 1:04d}_... that says what changed "
                f"(a comment is enough), then append '{last_version + 1:04d} {current}' to "
                f"{VERSIONS}")
        raise AssertionError(f"the function files changed since version {last_version}: {hint}")
    assert last_version <= latest


def test_versions_only_go_up() -> None:
    versions = [v for v, _ in recorded()]
    assert versions == sorted(set(versions))


def test_each_file_defines_the_function_it_is_named_after() -> None:
    for f in load_function_files():
        names = re.findall(r"^create or replace function htdag\.([a-z_0-9]+)\(", f.sql, re.M)
        assert names == [f.name], f"{f.name}.sql should define htdag.{f.name} (and only it)"
