"""TaskGraph: validation with typed errors that say what to fix, references and
their resolution, map-over."""

from __future__ import annotations

from typing import Any

import pytest

from htdag.core.errors import InvalidFlow
from htdag.core.options import StepOptions
from htdag.graph import (
    DanglingReferenceError,
    DuplicateTaskError,
    GraphCycleError,
    GraphError,
    InvalidMapOverError,
    TaskGraph,
    TaskSpec,
    UnknownHandlerInGraph,
    UnresolvedReferenceError,
    iter_references,
    parse_reference,
    resolve,
)


def graph(*tasks: dict[str, Any], **extra: Any) -> TaskGraph:
    return TaskGraph.parse({"goal": "g", "tasks": list(tasks), **extra})


def t(task_id: str, handler: str = "h", **fields: Any) -> dict[str, Any]:
    return {"id": task_id, "handler": handler, **fields}


# --- validation -------------------------------------------------------------------


def test_a_valid_graph_checks_and_chains() -> None:
    g = graph(t("a"), t("b", params={"x": "$a"}), t("c", depends_on=["a"]))
    assert g.check() is g
    assert g.check({"h"}) is g
    assert g.task("b").dependencies() == {"a"}
    assert sorted(g.leaves()) == ["b", "c"]


def test_graph_errors_are_invalid_flow_errors() -> None:
    assert issubclass(GraphError, InvalidFlow)
    for cls in (GraphCycleError, DanglingReferenceError, DuplicateTaskError,
                InvalidMapOverError, UnknownHandlerInGraph):
        assert issubclass(cls, GraphError)


def test_a_cycle_is_named_in_the_error() -> None:
    g = graph(t("a", depends_on=["c"]), t("b", params={"x": "$a"}), t("c", params={"y": "$b.z"}),
              t("d"))
    with pytest.raises(GraphCycleError) as info:
        g.check()
    message = str(info.value)
    # The whole cycle, closed, in dependency order, and how to fix it.
    assert "a -> c -> b -> a" in message
    assert "remove one of these dependencies" in message
    assert "d" not in message.split(":", 1)[1].split(";")[0]


def test_a_task_depending_on_itself_is_a_cycle() -> None:
    with pytest.raises(GraphCycleError, match="task 'a' depends on itself"):
        graph(t("a", params={"x": "$a.field"})).check()


def test_an_unknown_handler_is_named_with_the_registered_ones() -> None:
    g = graph(t("a", handler="search"), t("b", handler="summarise", depends_on=["a"]))
    g.check()  # without a catalogue, handlers are not checked
    with pytest.raises(UnknownHandlerInGraph) as info:
        g.check({"search", "summarize"})
    message = str(info.value)
    assert "task 'b' calls handler 'summarise', which is not registered" in message
    assert "['search', 'summarize']" in message


def test_goal_tasks_need_no_handler_but_plain_tasks_do() -> None:
    graph({"id": "sub", "kind": "goal", "description": "research x"}).check({"h"})
    with pytest.raises(GraphError, match="task 'a' needs a handler"):
        graph({"id": "a"}).check()
    with pytest.raises(GraphError, match="goal task 'sub' needs a description"):
        graph({"id": "sub", "kind": "goal"}).check()


@pytest.mark.parametrize("where", [
    {"depends_on": ["ghost"]},
    {"params": {"x": "$ghost"}},
    {"params": {"nested": [{"deep": ["$ghost.items.0"]}]}},
    {"map_over": "$ghost"},
])
def test_a_dangling_reference_names_the_task_and_the_missing_one(where: dict[str, Any]) -> None:
    with pytest.raises(DanglingReferenceError) as info:
        graph(t("a"), t("b", **where)).check()
    message = str(info.value)
    assert "task 'b' depends on or references 'ghost'" in message
    assert "tasks: ['a', 'b']" in message


def test_an_output_naming_no_task_is_dangling() -> None:
    with pytest.raises(DanglingReferenceError, match="output names task 'nope'"):
        graph(t("a"), output="nope").check()


def test_a_duplicate_id_is_named() -> None:
    with pytest.raises(DuplicateTaskError, match="two tasks have id 'a'; give each a unique id"):
        graph(t("a"), t("b"), t("a", handler="other")).check()


@pytest.mark.parametrize(("spec", "fix"), [
    ({"map_over": "items"}, "map_over must reference another task's output"),
    ({"map_over": "$src", "params": {"item": 1}}, "param 'item' is filled by map_over"),
    ({"map_over": "$src", "map_param": "url", "params": {"url": 1}},
     "param 'url' is filled by map_over"),
])
def test_a_bad_map_over_says_what_to_fix(spec: dict[str, Any], fix: str) -> None:
    with pytest.raises(InvalidMapOverError, match=fix):
        graph(t("src"), t("m", **spec)).check()


def test_a_goal_task_cannot_map_over() -> None:
    with pytest.raises(InvalidMapOverError, match="goal task 'sub' cannot map_over"):
        graph(t("src"), {"id": "sub", "kind": "goal", "description": "x",
                         "map_over": "$src"}).check()


def test_map_over_implies_a_dependency() -> None:
    g = graph(t("src"), t("m", map_over="$src.items", map_param="url"))
    assert g.task("m").dependencies() == {"src"}
    assert g.leaves() == ["m"]


def test_parse_lists_every_schema_problem_at_once() -> None:
    with pytest.raises(GraphError) as info:
        TaskGraph.parse({"tasks": [{"id": "1bad", "handler": "h", "colour": "red"},
                                   {"id": "run", "handler": "h"}]})
    message = str(info.value)
    assert message.startswith("task graph is invalid: ")
    assert "tasks.0.id" in message
    assert "tasks.0.colour" in message
    assert "task id 'run' is reserved" in message


def test_parse_reads_json_text_and_refuses_an_empty_graph() -> None:
    g = TaskGraph.parse('{"goal": "x", "tasks": [{"id": "a", "handler": "h"}]}')
    assert g.tasks[0].id == "a"
    with pytest.raises(GraphError, match="tasks"):
        TaskGraph.parse({"goal": "x", "tasks": []})


@pytest.mark.parametrize("bad", ["__x_items", "run", "a-b", "x" * 61])
def test_reserved_or_malformed_ids_are_refused(bad: str) -> None:
    with pytest.raises(GraphError):
        TaskGraph.parse({"tasks": [{"id": bad, "handler": "h"}]})


def test_options_are_checked() -> None:
    with pytest.raises(GraphError, match=r"tasks\.0\.options: max_attempts: Input should be"):
        TaskGraph.parse({"tasks": [t("a", options={"max_attempts": 0})]})
    with pytest.raises(GraphError, match=r"tasks\.0\.options: unknown option\(s\) \['retries'\]"):
        TaskGraph.parse({"tasks": [t("a", options={"retries": 3})]})
    spec = TaskSpec(id="a", handler="h", options={"timeout": 5, "priority": 2})
    assert spec.options == StepOptions(timeout=5, priority=2)


# --- references ----------------------------------------------------------------------


def test_parse_reference() -> None:
    assert parse_reference("$search") == ("search", [])
    assert parse_reference("$search.items.0") == ("search", ["items", "0"])
    for not_a_reference in ("search", "$$search", "$", "$1x", "a $search", "$search.", 5, None):
        assert parse_reference(not_a_reference) is None


def test_iter_references_walks_nested_params() -> None:
    params = {"a": "$one", "b": [1, "$two.x", {"c": ["$three"]}], "d": "$$lit", "e": "text"}
    assert sorted(r[0] for r in iter_references(params)) == ["one", "three", "two"]


OUTPUTS = {"search": {"items": ["u1", "u2"], "meta": {"n": 2}}, "count": 7,
           "plain": "text"}


def test_resolve_whole_outputs_fields_and_list_indexes() -> None:
    assert resolve("$count", OUTPUTS) == 7
    assert resolve("$search", OUTPUTS) == OUTPUTS["search"]
    assert resolve("$search.meta.n", OUTPUTS) == 2
    assert resolve("$search.items.1", OUTPUTS) == "u2"


def test_resolve_nested_lists_and_dicts_keeping_other_values() -> None:
    params = {"urls": "$search.items", "nested": [{"n": "$search.meta.n"}, ["$count", 3]],
              "flag": True, "none": None, "text": "about $search"}
    assert resolve(params, OUTPUTS) == {
        "urls": ["u1", "u2"], "nested": [{"n": 2}, [7, 3]], "flag": True, "none": None,
        "text": "about $search"}


def test_double_dollar_is_a_literal_dollar() -> None:
    assert resolve("$$search", OUTPUTS) == "$search"
    assert resolve(["$$5", {"k": "$$$x"}], OUTPUTS) == ["$5", {"k": "$$x"}]
    # ... and not a dependency.
    graph(t("a", params={"price": "$$USD"})).check()


def test_a_missing_field_says_what_the_output_is() -> None:
    with pytest.raises(UnresolvedReferenceError) as info:
        resolve({"x": ["$search.meta.missing"]}, OUTPUTS)
    assert "reference '$search.meta.missing'" in str(info.value)
    assert "has no 'missing'" in str(info.value)
    assert "(it is dict)" in str(info.value)
    with pytest.raises(UnresolvedReferenceError, match=r"has no '5' \(it is list\)"):
        resolve("$search.items.5", OUTPUTS)
    with pytest.raises(UnresolvedReferenceError, match=r"has no 'x' \(it is str\)"):
        resolve("$plain.x", OUTPUTS)


def test_a_missing_output_is_an_error() -> None:
    with pytest.raises(UnresolvedReferenceError, match="no output of task 'other'"):
        resolve("$other", OUTPUTS)
    assert issubclass(UnresolvedReferenceError, LookupError)
