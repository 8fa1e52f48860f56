"""Fixtures of the planning tests: a World (handlers and rules) per test, made
the process's planner so that subgoals, decomposed in the worker, use it too."""

from __future__ import annotations

import pytest

from htdag import composer

from ._planning import World


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    made = World()
    # acompose_from_task_graph plans subgoals with the process's planner, not with the
    # decomposer given to acompose_from_goal (see test_composer's xfail): set it.
    monkeypatch.setattr(composer, "_planner",
                        composer.Planner(made.rules, made.registry))
    return made
