"""Migration tests: databases built in other ways than the template's baseline."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import psycopg
import pytest

from htdag.core.db import LAYERS, Layer, apply_migrations

ROOT = Path(__file__).resolve().parents[2]
RELEASED = ROOT / "htdag" / "core" / "sql" / "RELEASED"


def released_commit() -> str | None:
    """The commit named in htdag/core/sql/RELEASED, or None before a first release."""
    lines = [line.strip() for line in RELEASED.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    return lines[0] if lines else None


def migrate(url: str, layers: tuple[Layer, ...] = LAYERS) -> list[str]:
    async def run() -> list[str]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return await apply_migrations(conn, layers)

    return asyncio.run(run())


def build_with_released_code(url: str, tmp_path: Path) -> str:
    """Builds the released schema in the database at ``url`` with the released
    commit's own code (a subprocess over its ``git archive``); returns what stood
    for the release."""
    commit = released_commit()
    if commit is None:
        migrate(url)
        return "this tree's baseline (nothing released yet)"
    inside = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-inside-work-tree"],
                            capture_output=True, text=True, check=False)
    if inside.returncode != 0:
        pytest.skip("not inside a git checkout: the released commit's schema is not at hand")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "htdag"],
                             capture_output=True, check=False)
    assert archive.returncode == 0, (
        f"git archive {commit} (htdag/core/sql/RELEASED) failed: {archive.stderr.decode()}; "
        "a shallow clone lacks it: fetch the history")
    target = tmp_path / "released"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    code = ("import sys; sys.path.insert(0, sys.argv[1]);"
            "from htdag.core.db import apply_migrations_sync; apply_migrations_sync(sys.argv[2])")
    done = subprocess.run([sys.executable, "-c", code, str(target), url], capture_output=True,
                          text=True, check=False, env={**os.environ, "PYTHONSAFEPATH": "1"})
    assert done.returncode == 0, f"the released code could not build its schema:\n{done.stderr}"
    return f"commit {commit}"


@pytest.fixture
def core_copy(tmp_path: Path) -> Iterator[Path]:
    """A copy of the core layer's SQL folder, to add migrations to."""
    target = tmp_path / "core-sql"
    with resources.as_file(resources.files("htdag.core").joinpath("sql")) as source:
        shutil.copytree(source, target)
    yield target
