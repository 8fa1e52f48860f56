"""Flow building and validation: what a mistake in a definition raises, and how
a definition is identified (canonical JSON and its hash)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from htdag import Flow
from htdag.core.errors import (
    DuplicateStepError,
    FlowCycleError,
    InvalidOptionError,
    MapStepDependencyError,
    UnknownDependencyError,
)
from htdag.errors import InvalidFlow
from htdag.flows import Step, StepOptions

YEAR = 365 * 86400  # the longest delay or timeout


def three_step_flow(name: str = "f") -> Flow:
    flow = Flow(name)
    flow.add_step("load", "h.load")
    flow.add_step("square", "h.square", depends_on=["load"], map=True)
    flow.add_step("total", "h.total", depends_on=["square"], max_attempts=5, timeout=2.5)
    return flow


# cycles ---------------------------------------------------------------------


def test_a_cycle_raises_flow_cycle_error_naming_every_step_in_it() -> None:
    flow = Flow("f")
    flow.add_step("entry", "h")
    flow.add_step("a", "h", depends_on=["c", "entry"])
    flow.add_step("b", "h", depends_on=["a"])
    flow.add_step("c", "h", depends_on=["b"])
    flow.add_step("tail", "h", depends_on=["c"])

    with pytest.raises(FlowCycleError) as caught:
        flow.validate()

    cycle = caught.value.cycle
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b", "c"}
    assert len(cycle) == 4
    message = str(caught.value)
    assert " -> ".join(cycle) in message
    assert "entry" not in message and "tail" not in message
    assert isinstance(caught.value, InvalidFlow)


def test_a_step_depending_on_itself_is_a_cycle() -> None:
    flow = Flow("f")
    flow.add_step("a", "h", depends_on=["a"])
    with pytest.raises(FlowCycleError) as caught:
        flow.validate()
    assert caught.value.cycle == ["a", "a"]
    assert "a -> a" in str(caught.value)


def test_a_cyclic_flow_cannot_be_hashed_or_serialized() -> None:
    flow = Flow("f")
    flow.add_step("a", "h", depends_on=["b"])
    flow.add_step("b", "h", depends_on=["a"])
    with pytest.raises(FlowCycleError):
        _ = flow.hash
    with pytest.raises(FlowCycleError):
        flow.to_json()


# structure --------------------------------------------------------------------


def test_an_unknown_dependency_names_the_step_and_the_missing_dependency() -> None:
    flow = Flow("f")
    flow.add_step("a", "h")
    flow.add_step("b", "h", depends_on=["a", "ghost"])
    with pytest.raises(UnknownDependencyError) as caught:
        flow.validate()
    message = str(caught.value)
    assert "'b'" in message and "'ghost'" in message
    assert "known steps: ['a', 'b']" in message


def test_a_duplicate_step_name_is_rejected_when_added() -> None:
    flow = Flow("f")
    flow.add_step("a", "h")
    with pytest.raises(DuplicateStepError, match="already has a step 'a'"):
        flow.add_step("a", "other")
    assert [s.handler for s in flow.steps] == ["h"]


def test_a_duplicate_step_from_the_decorator_is_rejected() -> None:
    flow = Flow("f")

    @flow.step()
    def a(inp: Any) -> int:
        return 1

    with pytest.raises(DuplicateStepError):

        @flow.step(name="a")
        def other(inp: Any) -> int:
            return 2


def test_a_map_step_with_two_dependencies_is_rejected() -> None:
    flow = Flow("f")
    flow.add_step("a", "h")
    flow.add_step("b", "h")
    with pytest.raises(MapStepDependencyError) as caught:
        flow.add_step("m", "h", depends_on=["a", "b"], map=True)
    assert "'m'" in str(caught.value) and "['a', 'b']" in str(caught.value)


def test_a_map_step_with_one_dependency_or_none_is_accepted() -> None:
    flow = Flow("f")
    flow.add_step("roots", "h", map=True)
    flow.add_step("m", "h", depends_on=["roots"], map=True)
    assert [s["kind"] for s in flow.to_definition()["steps"]] == ["map", "map"]


def test_the_step_name_run_is_reserved_for_the_run_input() -> None:
    flow = Flow("f")
    with pytest.raises(InvalidFlow, match="'run' is not allowed"):
        flow.add_step("run", "h")
    with pytest.raises(InvalidFlow, match="'run' is not allowed"):
        Flow.from_json({"name": "f", "steps": [{"name": "run", "handler": "h"}]})


def test_an_empty_step_name_or_flow_name_is_rejected() -> None:
    with pytest.raises(InvalidFlow):
        Flow("f").add_step("", "h")
    with pytest.raises(InvalidFlow, match="non-empty name"):
        Flow("  ")


def test_a_flow_without_steps_does_not_validate() -> None:
    with pytest.raises(InvalidFlow, match="has no steps"):
        Flow("f").validate()


def test_a_dependency_listed_twice_is_rejected() -> None:
    flow = Flow("f")
    flow.add_step("a", "h")
    with pytest.raises(InvalidFlow, match="twice"):
        flow.add_step("b", "h", depends_on=["a", "a"])


def test_a_handler_that_is_neither_a_function_nor_a_name_is_rejected() -> None:
    with pytest.raises(InvalidFlow, match="handler must be"):
        Flow("f").add_step("a", 42)  # type: ignore[arg-type]


# options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"max_attempts": 0}, "max_attempts: Input should be greater than or equal to 1 (got 0)"),
        ({"max_attempts": 1001}, "max_attempts: Input should be less than or equal to 1000"),
        ({"max_attempts": 2.5}, "max_attempts: Input should be a valid integer (got 2.5)"),
        ({"base_delay": -0.1}, "base_delay: Input should be greater than or equal to 0"),
        ({"base_delay": YEAR + 1}, f"base_delay: Input should be less than or equal to {YEAR}"),
        ({"base_delay": math.nan}, "base_delay: Input should be a finite number (got nan)"),
        ({"base_delay": "1"}, "base_delay: Input should be a valid number (got '1')"),
        ({"max_delay": -1}, "max_delay: Input should be greater than or equal to 0"),
        ({"max_delay": math.inf}, "max_delay: Input should be a finite number"),
        ({"base_delay": 10, "max_delay": 5}, "max_delay (5) must be >= base_delay (10)"),
        ({"timeout": 0}, "timeout: Input should be greater than 0 (got 0)"),
        ({"timeout": -1}, "timeout: Input should be greater than 0"),
        ({"timeout": YEAR + 1}, f"timeout: Input should be less than or equal to {YEAR}"),
        ({"timeout": math.nan}, "timeout: Input should be a finite number"),
        ({"priority": 2**31}, "priority: Input should be less than 2147483648"),
        ({"priority": -(2**31) - 1}, "priority: Input should be greater than or equal to"),
        ({"priority": 0.5}, "priority: Input should be a valid integer"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else "",
)
def test_an_option_out_of_range_is_rejected_with_the_step_and_option_named(
    options: dict[str, Any], fragment: str
) -> None:
    flow = Flow("f")
    with pytest.raises(InvalidOptionError) as caught:
        flow.add_step("s", "h", **options)
    assert "step 's'" in str(caught.value)
    assert fragment in str(caught.value)
    assert flow.steps == []


@pytest.mark.parametrize("option", ["max_attempts", "priority"])
def test_a_boolean_is_not_accepted_as_an_integer_option(option: str) -> None:
    # True would be stored as JSON `true`, which the database cannot read as an int.
    with pytest.raises(InvalidOptionError, match=option):
        options: dict[str, Any] = {option: True}
        Flow("f").add_step("s", "h", **options)


def test_options_at_the_edges_of_their_ranges_are_accepted() -> None:
    flow = Flow("f")
    flow.add_step("low", "h", max_attempts=1, base_delay=0, max_delay=0, timeout=0.001,
                  priority=-(2**31))
    flow.add_step("high", "h", max_attempts=1000, base_delay=YEAR, max_delay=YEAR,
                  timeout=YEAR, priority=2**31 - 1)
    assert flow["high"].options.max_attempts == 1000


def test_an_unknown_option_is_rejected_with_the_known_ones_listed() -> None:
    with pytest.raises(InvalidOptionError) as caught:
        Flow("f").add_step("s", "h", retries=3)
    assert "step 's': unknown option(s) ['retries']; the options are max_attempts" in str(
        caught.value)


def test_with_options_rejects_an_out_of_range_override() -> None:
    flow = three_step_flow()
    with pytest.raises(InvalidOptionError, match="step 'total'"):
        flow.with_options({"total": {"max_attempts": 0}})


# JSON ---------------------------------------------------------------------------


def test_flow_json_that_does_not_parse_raises_invalid_flow() -> None:
    with pytest.raises(InvalidFlow, match="does not parse"):
        Flow.from_json('{"name": "f", "steps": [')


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"steps": [{"name": "a", "handler": "h"}]}, "name: Field required"),
        ({"name": "f"}, "steps: Field required"),
        ({"name": "f", "steps": []}, "steps:"),
        ({"name": "f", "steps": [{"name": "a"}]}, "steps.0.handler: Field required"),
        ({"name": "f", "steps": [{"handler": "h"}]}, "steps.0.name: Field required"),
        ({"name": "f", "steps": [{"name": "a", "handler": ""}]}, "steps.0.handler"),
    ],
)
def test_flow_json_with_a_missing_field_raises_invalid_flow_naming_it(
    data: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidFlow) as caught:
        Flow.from_json(json.dumps(data))
    assert "flow JSON is invalid" in str(caught.value)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"name": "f", "version": 2, "steps": [{"name": "a", "handler": "h"}]}, "version"),
        ({"name": "f", "steps": [{"name": "a", "handler": "h", "retries": 3}]}, "steps.0.retries"),
    ],
)
def test_flow_json_with_an_unknown_field_raises_invalid_flow_naming_it(
    data: dict[str, Any], where: str
) -> None:
    with pytest.raises(InvalidFlow) as caught:
        Flow.from_json(data)
    assert f"{where}: Extra inputs are not permitted" in str(caught.value)


def test_flow_json_with_an_unknown_option_raises_invalid_option_error_naming_it() -> None:
    data = {"name": "f", "steps": [{"name": "a", "handler": "h", "options": {"retry": 1}}]}
    with pytest.raises(InvalidOptionError) as caught:
        Flow.from_json(data)
    assert "steps.0.options: unknown option(s) ['retry']" in str(caught.value)


def test_flow_json_is_validated_as_a_graph() -> None:
    data = {"name": "f", "steps": [{"name": "a", "handler": "h", "depends_on": ["b"]},
                                   {"name": "b", "handler": "h", "depends_on": ["a"]}]}
    with pytest.raises(FlowCycleError):
        Flow.from_json(data)
    data = {"name": "f", "steps": [{"name": "a", "handler": "h", "depends_on": ["zz"]}]}
    with pytest.raises(UnknownDependencyError):
        Flow.from_json(data)


def test_flow_json_options_out_of_range_raise_invalid_option_error() -> None:
    data = {"name": "f", "steps": [{"name": "a", "handler": "h",
                                    "options": {"max_attempts": 0}}]}
    with pytest.raises(InvalidOptionError, match="max_attempts"):
        Flow.from_json(data)


def test_a_flow_survives_the_json_round_trip() -> None:
    flow = three_step_flow()
    text = flow.to_json()
    again = Flow.from_json(text)

    assert again.to_definition() == flow.to_definition()
    assert again.hash == flow.hash
    assert again["square"].map is True
    assert again["total"].options == StepOptions(max_attempts=5, timeout=2.5)
    assert again["square"].depends_on == ("load",)
    assert Flow.from_json(text.encode()).hash == flow.hash


def test_from_json_attaches_handlers_by_name() -> None:
    def load(inp: Any) -> list[int]:
        return [1, 2]

    again = Flow.from_json(three_step_flow().to_json(), handlers={"h.load": load})
    assert again.handlers == {"h.load": load}
    assert again["square"].fn is None


def test_the_definition_lists_steps_after_their_dependencies() -> None:
    flow = Flow("f")
    flow.add_step("c", "h", depends_on=["b"])
    flow.add_step("b", "h", depends_on=["a"])
    flow.add_step("a", "h")
    names = [s["name"] for s in flow.to_definition()["steps"]]
    assert names == ["a", "b", "c"]


def test_decorated_steps_get_handler_names_scoped_by_flow() -> None:
    flow = Flow("pipeline")

    @flow.step()
    def fetch(inp: Any) -> int:
        return 1

    @flow.step(depends_on=["fetch"], handler="shared.parse")
    def parse(inp: Any) -> int:
        return 2

    assert flow["fetch"].handler == "pipeline.fetch"
    assert flow.handlers == {"pipeline.fetch": fetch, "shared.parse": parse}


# content hash -------------------------------------------------------------------


def test_the_same_definition_has_the_same_hash() -> None:
    assert three_step_flow().hash == three_step_flow().hash
    built = Flow("f", [Step("load", "h.load"),
                       Step("square", "h.square", depends_on=("load",), map=True),
                       Step("total", "h.total", depends_on=("square",),
                            options=StepOptions(max_attempts=5, timeout=2.5))])
    assert built.hash == three_step_flow().hash


def test_attached_functions_do_not_change_the_hash() -> None:
    flow = Flow("f")

    @flow.step(handler="h.a")
    def a(inp: Any) -> int:
        return 1

    plain = Flow("f")
    plain.add_step("a", "h.a")
    assert flow.hash == plain.hash


@pytest.mark.parametrize(
    "override",
    [{"max_attempts": 4}, {"base_delay": 2.0}, {"max_delay": 301.0}, {"timeout": 3.0},
     {"priority": 1}],
)
def test_changing_any_option_changes_the_hash(override: dict[str, Any]) -> None:
    flow = three_step_flow()
    changed = flow.with_options({"total": override})
    assert changed.hash != flow.hash
    assert flow.with_options({"total": {}}).hash == flow.hash


def test_the_hash_follows_every_change_to_the_flow() -> None:
    flow = three_step_flow()
    seen = {flow.hash}
    flow.add_step("extra", "h.extra", depends_on=["total"])
    seen.add(flow.hash)
    flow.output = "total"
    seen.add(flow.hash)
    flow.name = "renamed"
    seen.add(flow.hash)
    assert len(seen) == 4
    assert flow.hash == Flow.from_json(flow.to_json()).hash


def test_the_name_handler_kind_and_dependencies_are_part_of_the_hash() -> None:
    base = three_step_flow().hash
    assert three_step_flow("g").hash != base

    other_handler = Flow("f")
    other_handler.add_step("load", "h.other")
    other_handler.add_step("square", "h.square", depends_on=["load"], map=True)
    other_handler.add_step("total", "h.total", depends_on=["square"], max_attempts=5, timeout=2.5)
    assert other_handler.hash != base

    not_map = Flow("f")
    not_map.add_step("load", "h.load")
    not_map.add_step("square", "h.square", depends_on=["load"])
    not_map.add_step("total", "h.total", depends_on=["square"], max_attempts=5, timeout=2.5)
    assert not_map.hash != base


def test_the_order_steps_are_added_in_does_not_change_the_hash() -> None:
    first = Flow("f")
    first.add_step("a", "h.a")
    first.add_step("b", "h.b")
    first.add_step("c", "h.c", depends_on=["a", "b"])

    second = Flow("f")
    second.add_step("b", "h.b")
    second.add_step("c", "h.c", depends_on=["b", "a"])
    second.add_step("a", "h.a")

    assert first.hash == second.hash
    assert first.to_definition() == second.to_definition()


def test_the_hash_is_of_the_canonical_json() -> None:
    flow = three_step_flow()
    from_json = Flow.from_json(json.dumps(json.loads(flow.to_json()), indent=7, sort_keys=True))
    assert from_json.hash == flow.hash
    assert len(flow.hash) == 32
    int(flow.hash, 16)


def test_steps_are_ordered_level_by_level_and_by_name_within_a_level() -> None:
    flow = Flow("levels")
    for name, deps in [("z", []), ("c", ["z", "a"]), ("a", []), ("b", ["a"]), ("d", ["c"])]:
        flow.add_step(name, f"h.{name}", depends_on=deps)

    assert [s.name for s in flow.topological_order()] == ["a", "z", "b", "c", "d"]


def test_a_long_chain_added_backwards_is_ordered_from_its_root() -> None:
    flow = Flow("long")
    names = [f"s{i:04d}" for i in range(3000)]
    for i in reversed(range(3000)):
        flow.add_step(names[i], "h.link", depends_on=[names[i - 1]] if i else [])

    assert [s.name for s in flow.topological_order()] == names
