"""The layers point down only: the core (the DAG engine) imports nothing of the
events, planning or optimizer layers, and the events layer nothing of planning.
Every import in a module, at any depth (functions included), is checked."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "htdag"
PLANNING = {"htdag.graph", "htdag.handlers", "htdag.decomposers", "htdag.flow_builder",
            "htdag.planner", "htdag.composer", "htdag.llm", "htdag.examples"}
EVENTS = {"htdag.notifications", "htdag.events"}
OPTIMIZER = {"htdag.optimizer"}
FORBIDDEN = {
    "htdag/core": PLANNING | EVENTS | OPTIMIZER,
    "htdag/notifications": PLANNING | OPTIMIZER,
}


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """Absolute names of every module ``path`` imports (relative ones resolved);
    ``root`` is the folder the package is in."""
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _violations(layer: str, root: Path = PACKAGE.parent) -> list[str]:
    bad = []
    for path in sorted((root / layer).rglob("*.py")):
        for module in sorted(imports_of(path, root)):
            if any(module == f or module.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(root)} imports {module}")
    return bad


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    assert _violations(layer) == []


def test_the_check_sees_relative_imports_inside_functions(tmp_path: Path) -> None:
    # The checker itself, on a package of its own: a relative import two levels up,
    # inside a function, and an absolute one.
    core = tmp_path / "htdag" / "core"
    core.mkdir(parents=True)
    (core / "engine.py").write_text("def f():\n    from ..planner import Planner\n")
    (core / "sync.py").write_text("import htdag.events\nfrom . import engine\n")
    assert _violations("htdag/core", tmp_path) == [
        "htdag/core/engine.py imports htdag.planner",
        "htdag/core/engine.py imports htdag.planner.Planner",
        "htdag/core/sync.py imports htdag.events"]
