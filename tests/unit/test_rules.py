"""RuleDecomposer: patterns and keywords to graph templates with slots."""

from __future__ import annotations

from typing import Any

import pytest

from htdag.decomposers import Decomposer, NoDecomposition, Rule, RuleDecomposer, default_rules
from htdag.examples import example_handlers
from htdag.graph import DanglingReferenceError, TaskGraph, UnknownHandlerInGraph, resolve

FETCH = {
    "tasks": [
        {"id": "fetch", "handler": "fetch", "description": "Fetch {url}",
         "params": {"url": "{url}", "note": "from {site} for: {goal}", "count": "{n}",
                    "list": ["{site}", {"deep": "{url}"}], "unknown": "{nope}"}},
        {"id": "parse", "handler": "parse", "params": {"page": "$fetch.body"}},
    ],
    "output": "parse",
}


async def decompose(decomposer: Decomposer, goal: str, catalogue: Any = None) -> TaskGraph:
    return await decomposer.decompose(goal, {"catalogue": catalogue} if catalogue else {})


async def test_regex_named_groups_fill_the_template_slots() -> None:
    rule = Rule("fetch", FETCH, pattern=r"fetch (?P<n>\d+) pages? from (?P<url>(?P<site>\S+?)/\S*)")
    graph = await decompose(RuleDecomposer([rule]), "Please FETCH 3 pages from example.org/docs ")
    assert graph.goal == "Please FETCH 3 pages from example.org/docs"  # {goal}: the stripped goal
    fetch = graph.task("fetch")
    assert fetch.description == "Fetch example.org/docs"
    assert fetch.params == {
        "url": "example.org/docs", "note": "from example.org for: Please FETCH 3 pages from "
        "example.org/docs", "count": "3", "list": ["example.org", {"deep": "example.org/docs"}],
        "unknown": "{nope}"}  # a slot nobody filled stays as it is
    assert graph.task("parse").params == {"page": "$fetch.body"}  # references stay references
    assert graph.output == "parse"


async def test_keywords_must_all_appear_in_any_case() -> None:
    template = {"tasks": [{"id": "deploy", "handler": "deploy", "params": {"what": "{goal}"}}]}
    decomposer = RuleDecomposer([Rule("deploy", template, keywords=("deploy", "Staging"))])
    graph = await decompose(decomposer, "Deploy the API to staging")
    assert graph.task("deploy").params == {"what": "Deploy the API to staging"}
    with pytest.raises(NoDecomposition):
        await decompose(decomposer, "deploy the API to production")


async def test_pattern_and_keywords_together_and_the_first_match_wins() -> None:
    one = {"tasks": [{"id": "one", "handler": "h", "params": {"x": "{x}"}}]}
    two = {"tasks": [{"id": "two", "handler": "h", "params": {"x": "{x}"}}]}
    decomposer = RuleDecomposer([
        Rule("urgent", one, pattern=r"do (?P<x>\w+)", keywords=("now",)),
        Rule("later", two, pattern=r"do (?P<x>\w+)"),
    ])
    assert (await decompose(decomposer, "do laundry now")).tasks[0].id == "one"
    assert (await decompose(decomposer, "do laundry")).tasks[0].id == "two"


async def test_no_match_raises_no_decomposition_naming_the_rules() -> None:
    decomposer = RuleDecomposer([Rule("a", FETCH, pattern="^fetch"),
                                 Rule("b", FETCH, keywords=("zzz",))])
    with pytest.raises(NoDecomposition) as info:
        await decompose(decomposer, "bake a cake")
    assert "no rule matches the goal 'bake a cake' (rules: a, b)" in str(info.value)
    assert "add a Rule" in str(info.value)
    with pytest.raises(NoDecomposition, match=r"\(rules: none\)"):
        await decompose(RuleDecomposer([]), "anything")


def test_a_rule_needs_a_pattern_or_keywords() -> None:
    with pytest.raises(ValueError, match="rule 'empty' needs a pattern or keywords"):
        Rule("empty", FETCH)


async def test_a_callable_template_gets_the_slots() -> None:
    def plan(slots: dict[str, str]) -> dict[str, Any]:
        n = int(slots["n"])
        return {"tasks": [{"id": f"t{i}", "handler": "h", "params": {"i": i}}
                          for i in range(n)]}

    def plan_graph(slots: dict[str, str]) -> TaskGraph:
        return TaskGraph.parse({"goal": slots["goal"], "tasks": [{"id": "x", "handler": "h"}]})

    decomposer = RuleDecomposer([Rule("many", plan, pattern=r"(?P<n>\d+) things"),
                                 Rule("graph", plan_graph, keywords=("graph",))])
    graph = await decompose(decomposer, "make 3 things")
    assert [t.id for t in graph.tasks] == ["t0", "t1", "t2"]
    assert (await decompose(decomposer, "a graph")).goal == "a graph"


async def test_the_graph_is_checked_against_the_catalogue() -> None:
    decomposer = RuleDecomposer([Rule("fetch", FETCH, keywords=("fetch",))])
    with pytest.raises(UnknownHandlerInGraph, match="task 'fetch' calls handler 'fetch'"):
        await decompose(decomposer, "fetch it", catalogue={"parse"})
    broken = {"tasks": [{"id": "a", "handler": "h", "params": {"x": "$missing"}}]}
    with pytest.raises(DanglingReferenceError, match="'missing'"):
        await decompose(RuleDecomposer([Rule("b", broken, keywords=("b",))]), "b")


async def test_goal_text_that_looks_like_a_reference_stays_text() -> None:
    # A slot's value is the user's text: "$search" there must not become a reference
    # (here it would even be a cycle: search's own params naming search).
    decomposer = RuleDecomposer()
    for topic in ("$search", "$report.x", "$$money", "$5 deals"):
        graph = await decompose(decomposer, f"research {topic}", catalogue=example_handlers)
        assert graph.task("search").dependencies() == set()
        assert graph.task("summarize").dependencies() == {"search"}
        assert resolve(graph.task("search").params, {}) == {"topic": topic}


async def test_the_default_rules_plan_over_the_example_handlers() -> None:
    decomposer = RuleDecomposer()
    assert [r.name for r in decomposer.rules] == [r.name for r in default_rules()]
    research = await decompose(decomposer, "research durable workflows",
                               catalogue=example_handlers)
    assert [(t.id, t.handler, t.map_over) for t in research.tasks] == [
        ("search", "search", None), ("summarize", "summarize", "$search"),
        ("report", "combine", None)]
    assert research.task("search").params == {"topic": "durable workflows"}
    assert research.output == "report"

    compare = await decompose(decomposer, "compare postgres vs. redis",
                              catalogue=example_handlers)
    assert [(t.id, t.kind, t.description) for t in compare.tasks] == [
        ("left", "goal", "research postgres"), ("right", "goal", "research redis"),
        ("verdict", "task", "Compare postgres with redis")]
    assert compare.task("verdict").dependencies() == {"left", "right"}


async def test_rules_can_be_added() -> None:
    decomposer = RuleDecomposer([])
    decomposer.add(Rule("x", {"tasks": [{"id": "x", "handler": "h"}]}, keywords=("x",)))
    assert (await decompose(decomposer, "x marks the spot")).tasks[0].id == "x"
