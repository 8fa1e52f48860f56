"""The scripted fault set of the LLM decomposer: answers a model gets wrong in
the ways models do, each followed by a correct one. Shared by the tests and
benchmarks/llm_repair.py.

``Fault.answer`` is the faulty answer, ``Fault.expected`` a piece of the
validator's error that must go back to the model, ``Fault.context`` what the
planner would pass (a depth at its limit, for the subgoal fault), and
``Fault.attempts`` how many answers it takes: 2, except text around a JSON
object, which is taken out of the text without asking again."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from htdag.handlers import HandlerRegistry

GOAL = "research postgres and write a short report"
MAX_TASKS = 8


def catalogue() -> HandlerRegistry:
    reg = HandlerRegistry()

    @reg.handler("search", description="Finds sources on a topic.")
    def search(topic: str, limit: int = 3) -> list[str]:
        return [f"{topic}/{i}" for i in range(limit)]

    @reg.handler("summarize", description="Summarizes one source.")
    def summarize(item: str, topic: str) -> str:
        return f"{item}: about {topic}"

    @reg.handler("combine", description="Combines summaries into a report.")
    def combine(parts: list[str], topic: str) -> dict[str, Any]:
        return {"topic": topic, "report": " ".join(parts)}

    return reg


def task(id: str, handler: str, params: dict[str, Any], **more: Any) -> dict[str, Any]:
    found = {"id": id, "kind": "task", "handler": handler, "description": f"{id} step",
             "params": params, "depends_on": [], "map_over": ""}
    found.update(more)
    return found


def good_plan() -> dict[str, Any]:
    return {"tasks": [
        task("search", "search", {"topic": "postgres", "limit": 3}),
        task("summarize", "summarize", {"topic": "postgres"}, map_over="$search"),
        task("report", "combine", {"topic": "postgres", "parts": "$summarize"}),
    ], "output": "report"}


GOOD = json.dumps(good_plan())


def _with(**changes: Any) -> str:
    plan = good_plan()
    for index, fields in changes.items():
        plan["tasks"][int(index.removeprefix("t"))].update(fields)
    return json.dumps(plan)


@dataclass(frozen=True)
class Fault:
    name: str
    answer: str
    expected: str
    context: dict[str, Any] = field(default_factory=dict)
    attempts: int = 2


def faults() -> list[Fault]:
    plan = good_plan()
    duplicate = {**plan, "tasks": [*plan["tasks"], plan["tasks"][0]]}
    many = {"tasks": [task(f"search_{i}", "search", {"topic": f"t{i}"})
                      for i in range(MAX_TASKS + 4)], "output": ""}
    deep = {"tasks": [{"id": "learn", "kind": "goal", "handler": "",
                       "description": "research postgres", "params": {}, "depends_on": [],
                       "map_over": ""}], "output": "learn"}
    return [
        Fault("prose around the JSON", f"Sure! Here is the plan:\n{GOOD}\nHope it helps.",
              "", attempts=1),
        Fault("invalid JSON", GOOD[:-1] + ",}", "is not valid JSON"),
        Fault("truncated JSON", GOOD[: len(GOOD) // 2], "the JSON is cut off"),
        Fault("unknown handler", _with(t0={"handler": "web_search"}),
              "task 'search', field 'handler': 'web_search' is not in the catalogue"),
        Fault("wrong parameter type", _with(t0={"params": {"topic": "postgres",
                                                           "limit": "five"}}),
              "task 'search', params of handler 'search': limit: Input should be a valid "
              "integer"),
        Fault("missing required parameter", _with(t2={"params": {"parts": "$summarize"}}),
              "task 'report', params of handler 'combine': topic: Field required"),
        Fault("cycle", _with(t0={"depends_on": ["report"]}),
              "tasks depend on each other in a cycle"),
        Fault("dangling reference", _with(t2={"params": {"topic": "postgres",
                                                         "parts": "$summaries"}}),
              "task 'report' depends on or references 'summaries', which the plan does not "
              "have"),
        Fault("duplicate task id", json.dumps(duplicate), "task id 'search' is used by 2 tasks"),
        Fault("too many tasks", json.dumps(many),
              f"the plan has {MAX_TASKS + 4} tasks, over the limit of {MAX_TASKS}"),
        Fault("empty plan", json.dumps({"tasks": [], "output": ""}), "the plan has no tasks"),
        Fault("subgoal deeper than the limit", json.dumps(deep),
              "task 'learn' is a subgoal (kind 'goal'), which would be planned at depth 3, "
              "deeper than the limit of 2", context={"depth": 2, "max_depth": 2}),
    ]
