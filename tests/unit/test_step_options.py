"""One frozen options model, with one set of bounds, for flows built in Python,
flows read from JSON and task graphs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from htdag import Flow
from htdag.core.errors import InvalidFlow, InvalidOptionError
from htdag.core.options import MAX_ATTEMPTS, MAX_SECONDS
from htdag.flow_builder import build_flow
from htdag.flows import StepOptions
from htdag.graph import GraphError, TaskGraph

BAD = [
    {"max_attempts": 0}, {"max_attempts": MAX_ATTEMPTS + 1}, {"max_attempts": True},
    {"base_delay": -1}, {"base_delay": MAX_SECONDS + 1}, {"max_delay": float("inf")},
    {"base_delay": 10, "max_delay": 5}, {"timeout": 0}, {"timeout": MAX_SECONDS + 1},
    {"priority": 2**31}, {"priority": "high"}, {"retries": 3},
]
GOOD = [
    {}, {"max_attempts": MAX_ATTEMPTS, "base_delay": MAX_SECONDS, "max_delay": MAX_SECONDS},
    {"timeout": MAX_SECONDS, "priority": -(2**31)}, {"base_delay": 0, "max_delay": 0},
]


def in_python_flow(options: dict[str, Any]) -> StepOptions:
    return Flow("f").add_step("s", "h", **options).options


def in_json_flow(options: dict[str, Any]) -> StepOptions:
    flow = Flow.from_json({"name": "f", "steps": [{"name": "s", "handler": "h",
                                                   "options": options}]})
    return flow["s"].options


def in_task_graph(options: dict[str, Any]) -> StepOptions:
    graph = TaskGraph.parse({"tasks": [{"id": "s", "handler": "h", "options": options}]})
    return build_flow(graph)[0]["s"].options


PATHS = [in_python_flow, in_json_flow, in_task_graph]


@pytest.mark.parametrize("options", GOOD, ids=repr)
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.__name__)
def test_every_path_accepts_the_same_options_and_gives_the_same_model(
    path: Any, options: dict[str, Any]
) -> None:
    assert path(options) == StepOptions(**options)


@pytest.mark.parametrize("options", BAD, ids=repr)
def test_every_path_refuses_the_same_options(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidOptionError):
        StepOptions(**options)
    with pytest.raises(InvalidOptionError, match="step 's': "):
        in_python_flow(options)
    with pytest.raises(InvalidOptionError, match=r"steps\.0\.options"):
        in_json_flow(options)
    with pytest.raises(GraphError, match=r"tasks\.0\.options"):
        in_task_graph(options)


def test_the_options_are_frozen_and_hashable() -> None:
    options = StepOptions(max_attempts=2)
    with pytest.raises(ValidationError):
        options.max_attempts = 5  # type: ignore[misc]
    assert hash(options) == hash(StepOptions(max_attempts=2))


def test_updated_checks_the_changes_and_keeps_the_rest() -> None:
    options = StepOptions(timeout=5)
    assert options.updated({"priority": 3}) == StepOptions(timeout=5, priority=3)
    assert options.updated({}) is options
    with pytest.raises(InvalidOptionError, match="max_attempts"):
        options.updated({"max_attempts": 0})


def test_an_error_names_the_option_its_bound_and_the_value() -> None:
    with pytest.raises(InvalidOptionError) as caught:
        StepOptions(max_attempts=0)
    assert str(caught.value) == "max_attempts: Input should be greater than or equal to 1 (got 0)"
    assert isinstance(caught.value, InvalidFlow)


def test_a_graph_s_options_are_the_step_options_model() -> None:
    graph = TaskGraph.parse({"tasks": [{"id": "s", "handler": "h", "options": {"timeout": 5}}]})
    assert graph.tasks[0].options == StepOptions(timeout=5)
    schema = TaskGraph.model_json_schema()["$defs"]["StepOptions"]["properties"]
    assert schema["max_attempts"]["maximum"] == MAX_ATTEMPTS
