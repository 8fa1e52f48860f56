"""Fixtures of the planning tests: a World (handlers and rules) per test, made
the process's planner so that subgoals, decomposed in the worker, use it too."""

from __future__ import annotations

import pytest

from htdag import Planner, composer

from ._planning import World


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    made = World()
    # The module-level functions plan with the default planner (acompose_from_task_graph
    # takes no decomposer for the subgoals of the graph): make it this world's.
    monkeypatch.setattr(composer, "_default", Planner(made.rules, made.registry))
    return made
