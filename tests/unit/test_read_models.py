"""Importing htdag registers none of its tables in the user's ``SQLModel.metadata``."""

from __future__ import annotations

import subprocess
import sys

from sqlmodel import SQLModel

from htdag.core.models import Run, RunDetails, StepState, Task, WorkerInfo, htdag_metadata


def test_importing_htdag_leaves_sqlmodel_metadata_empty() -> None:
    # A fresh interpreter: this one's metadata may hold other tests' tables.
    code = ("import htdag, htdag.core.models, htdag.core.engine\n"
            "from sqlmodel import SQLModel\n"
            "print(sorted(SQLModel.metadata.tables))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert found == "[]"


def test_the_read_models_tables_are_in_htdag_s_own_metadata() -> None:
    assert sorted(htdag_metadata.tables) == ["htdag.runs", "htdag.step_states", "htdag.tasks",
                                             "htdag.workers"]
    assert not any(t.schema == "htdag" for t in SQLModel.metadata.tables.values())
    for model in (Run, StepState, Task, WorkerInfo):
        assert model.metadata is htdag_metadata


def test_the_read_models_still_read_rows() -> None:
    details = RunDetails.model_validate({
        "run": {"run_id": "00000000-0000-0000-0000-000000000001", "flow_hash": "h",
                "status": "running", "input": {}, "remaining_steps": 1,
                "root_run_id": "00000000-0000-0000-0000-000000000001",
                "started_at": "2026-01-01T00:00:00Z"},
        "steps": [], "tasks": []})
    assert details.status == "running"
