"""The planning tests' world (handlers and rules with nested goals), made the
process's planner so that the subgoals its tasks submit use it too."""

from __future__ import annotations

import pytest

from htdag import Planner, composer

from ..planning._planning import World


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    made = World()
    monkeypatch.setattr(composer, "_default", Planner(made.rules, made.registry))
    return made
