"""Handlers and rules of the planning tests: a small world of tools (fast,
deterministic), and rules that plan over them, with nested goals."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from htdag.core.context import TaskContext
from htdag.decomposers import Rule, RuleDecomposer
from htdag.handlers import HandlerRegistry


class World:
    """A fresh registry and decomposer per test; ``calls`` counts handler calls."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.started: dict[str, asyncio.Event] = {}
        self.registry = self._registry()
        self.rules = RuleDecomposer(self._rules())

    def event(self, name: str) -> asyncio.Event:
        return self.started.setdefault(name, asyncio.Event())

    def _registry(self) -> HandlerRegistry:
        reg = HandlerRegistry()
        calls = self.calls

        @reg.handler("search", description="Finds sources on a topic.")
        async def search(topic: str, limit: int = 3) -> list[str]:
            calls["search"] += 1
            await asyncio.sleep(0)
            return [f"{topic}/{i}" for i in range(limit)]

        @reg.handler("summarize", description="Summarizes one source.")
        def summarize(item: str, topic: str) -> dict[str, Any]:
            calls["summarize"] += 1
            return {"source": item, "words": len(item.split("/")[0])}

        @reg.handler("combine", description="Combines summaries into a report.")
        def combine(parts: list[dict[str, Any]], topic: str) -> dict[str, Any]:
            calls["combine"] += 1
            return {"topic": topic, "sources": [p["source"] for p in parts],
                    "words": sum(p["words"] for p in parts)}

        @reg.handler("compare", description="Compares two reports.")
        def compare(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
            calls["compare"] += 1
            return {"compared": [left["topic"], right["topic"]],
                    "sources": len(left["sources"]) + len(right["sources"])}

        @reg.handler("leaf", description="Returns its value.")
        def leaf(value: Any) -> Any:
            calls["leaf"] += 1
            return value

        @reg.handler("wrap", description="Wraps a value in a dict.")
        async def wrap(value: Any, label: str) -> dict[str, Any]:
            calls["wrap"] += 1
            return {label: value}

        @reg.handler("fail", description="Always fails.")
        def fail(what: str, ctx: TaskContext) -> None:
            calls["fail"] += 1
            raise RuntimeError(f"{what} failed (attempt {ctx.attempt})")

        @reg.handler("fail_first", description="Fails the first time it runs, then works.")
        def fail_first(what: str) -> str:
            calls["fail_first"] += 1
            if calls["fail_first"] == 1:
                raise RuntimeError(f"{what} failed the first time")
            return f"{what} worked"

        @reg.handler("block", description="Waits, until cancelled.")
        async def block(name: str, seconds: float = 30.0) -> str:
            calls["block"] += 1
            self.event(name).set()
            try:
                await asyncio.sleep(seconds)
            except asyncio.CancelledError:
                calls["block_cancelled"] += 1
                raise
            return name

        return reg

    @staticmethod
    def _rules() -> list[Rule]:
        def nest(slots: dict[str, str]) -> dict[str, Any]:
            n = int(slots["n"])
            if n == 0:
                return {"tasks": [{"id": "bottom", "handler": "leaf",
                                   "params": {"value": "bottom"}}]}
            return {"tasks": [{"id": "inner", "kind": "goal", "description": f"nest {n - 1}"}]}

        return [
            Rule("research", {
                "tasks": [
                    {"id": "search", "handler": "search", "params": {"topic": "{topic}"}},
                    {"id": "summarize", "handler": "summarize", "map_over": "$search",
                     "params": {"topic": "{topic}"}},
                    {"id": "report", "handler": "combine",
                     "params": {"topic": "{topic}", "parts": "$summarize"}},
                ],
                "output": "report"}, pattern=r"^research (?P<topic>.+)$"),
            Rule("compare", {
                "tasks": [
                    {"id": "left", "kind": "goal", "description": "research {a}"},
                    {"id": "right", "kind": "goal", "description": "research {b}"},
                    {"id": "verdict", "handler": "compare",
                     "params": {"left": "$left", "right": "$right"}},
                ],
                "output": "verdict"}, pattern=r"^compare (?P<a>.+) with (?P<b>.+)$"),
            # Two levels of subgoals: deep -> mid -> leaf.
            Rule("deep", {"tasks": [
                {"id": "middle", "kind": "goal", "description": "mid {x}"},
                {"id": "outer", "handler": "wrap",
                 "params": {"value": "$middle", "label": "deep"}}]},
                pattern=r"^deep (?P<x>\w+)$"),
            Rule("mid", {"tasks": [
                {"id": "lower", "kind": "goal", "description": "leaf {x}",
                 "options": {"max_attempts": 1}},
                {"id": "middle_wrap", "handler": "wrap",
                 "params": {"value": "$lower", "label": "mid"}}]},
                pattern=r"^mid (?P<x>\w+)$"),
            Rule("leaf", {"tasks": [{"id": "value", "handler": "leaf",
                                     "params": {"value": "{x}"}}]},
                 pattern=r"^leaf (?P<x>\w+)$"),
            Rule("nest", nest, pattern=r"^nest (?P<n>\d+)$"),
            Rule("fail", {"tasks": [{"id": "boom", "handler": "fail", "params": {"what": "{what}"},
                                     "options": {"max_attempts": 1}}]},
                 pattern=r"^fail (?P<what>.+)$"),
            Rule("flaky", {"tasks": [{"id": "once", "handler": "fail_first",
                                      "params": {"what": "{what}"},
                                      "options": {"max_attempts": 1}}]},
                 pattern=r"^flaky (?P<what>.+)$"),
            Rule("retry", {"tasks": [{"id": "sub", "kind": "goal", "description": "{child}",
                                      "options": {"max_attempts": 2, "base_delay": 0}}]},
                 pattern=r"^retry (?P<child>.+)$"),
            Rule("hang", {"tasks": [
                {"id": "sub", "kind": "goal", "description": "block {name}"},
                {"id": "after", "handler": "leaf", "params": {"value": "$sub"}}]},
                pattern=r"^hang (?P<name>\w+)$"),
            Rule("block", {"tasks": [{"id": "wait", "handler": "block",
                                      "params": {"name": "{name}"}}]},
                 pattern=r"^block (?P<name>\w+)$"),
        ]
