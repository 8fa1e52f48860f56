"""Which tasks of a new plan a replan carries (their outputs, not a second run),
and what the decomposer is told about the run that failed."""

from __future__ import annotations

from typing import Any

from htdag.flow_builder import CARRIED, build_flow
from htdag.graph import TaskGraph
from htdag.replan import carried_outputs, replan_context


def graph(*tasks: dict[str, Any]) -> TaskGraph:
    return TaskGraph.model_validate({"goal": "g", "tasks": list(tasks)})


FETCH = {"id": "fetch", "handler": "http.get", "params": {"url": "u"}}
PARSE = {"id": "parse", "handler": "parse", "params": {"text": "$fetch"}}
SEND = {"id": "send", "handler": "send", "params": {"body": "$parse"}}


def test_unchanged_completed_tasks_are_carried_with_their_outputs() -> None:
    before = graph(FETCH, PARSE, SEND)
    after = graph(FETCH, PARSE, {**SEND, "handler": "send.retrying"})

    carried = carried_outputs(before, {"fetch": "<html>", "parse": {"n": 1}}, after)

    assert carried == {"fetch": "<html>", "parse": {"n": 1}}


def test_a_task_whose_params_changed_runs_again_and_so_does_what_depends_on_it() -> None:
    before = graph(FETCH, PARSE, SEND)
    after = graph({**FETCH, "params": {"url": "v"}}, PARSE, SEND)

    carried = carried_outputs(before, {"fetch": "<html>", "parse": {"n": 1}}, after)

    assert carried == {}


def test_a_task_that_did_not_complete_is_not_carried() -> None:
    before = graph(FETCH, PARSE, SEND)

    assert carried_outputs(before, {"fetch": "<html>"}, before) == {"fetch": "<html>"}


def test_a_new_task_under_an_old_id_with_another_handler_runs() -> None:
    before = graph(FETCH, PARSE)
    after = graph({**FETCH, "handler": "http.post"}, PARSE)

    assert carried_outputs(before, {"fetch": "x", "parse": "y"}, after) == {}


def test_a_carried_task_becomes_a_step_that_returns_its_output() -> None:
    plan = graph(FETCH, PARSE, SEND)

    flow, run_input = build_flow(plan, carried={"fetch": "<html>"})

    steps = {s.name: s for s in flow.steps}
    assert steps["fetch"].handler == CARRIED and not steps["fetch"].depends_on
    assert run_input["params"]["fetch"] == {"output": "<html>"}
    assert steps["parse"].depends_on == ("fetch",) and steps["parse"].handler == "parse"


def test_the_context_names_the_failure_and_shows_outputs_cut_short() -> None:
    plan = graph(FETCH, PARSE)

    told = replan_context(1, plan, "ValueError: bad page", {"fetch": "x" * 10_000})

    assert told["attempt"] == 1 and told["error"] == "ValueError: bad page"
    assert [t["id"] for t in told["failed_graph"]["tasks"]] == ["fetch", "parse"]
    shown = told["completed_outputs"]["fetch"]
    assert isinstance(shown, str) and len(shown) < 2_100 and shown.endswith("characters in all]")
