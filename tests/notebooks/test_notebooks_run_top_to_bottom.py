"""The notebooks in notebooks/ run top to bottom on a fresh database (the
``dsn`` fixture, given to their kernel as HTDAG_DATABASE_URL), offline, and
are committed without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert [n.name for n in NOTEBOOKS] == [
        "01_quickstart.ipynb", "02_agents_and_subgoals.ipynb",
        "03_planning_with_an_llm.ipynb", "04_optimizer.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_is_committed_without_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: clear the outputs before committing (Kernel > Restart & Clear)")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_runs_top_to_bottom(path: Path, dsn: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTDAG_DATABASE_URL", dsn)  # the kernel inherits the environment
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    monkeypatch.delenv("HTDAG_LLM_MODEL", raising=False)
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(book, timeout=240, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})

    client.execute()

    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    shown = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert shown, "the notebook showed nothing"
