"""RuleDecomposer: patterns (regular expressions with named groups, or
keywords) mapped to graph templates whose strings have ``{slot}`` holes
filled from the goal. Cheap, predictable, and exact: the first matching rule
wins; no match raises NoDecomposition."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..graph import TaskGraph
from .base import Decomposer, NoDecomposition

Template = Mapping[str, Any] | Callable[[dict[str, str]], Mapping[str, Any] | TaskGraph]
_SLOT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Rule:
    """``pattern`` is searched case-insensitively (named groups become slots);
    ``keywords`` must all appear. ``{goal}`` is always a slot."""

    name: str
    template: Template
    pattern: str | None = None
    keywords: tuple[str, ...] = ()
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pattern is None and not self.keywords:
            raise ValueError(f"rule {self.name!r} needs a pattern or keywords")
        if self.pattern is not None:
            object.__setattr__(self, "_regex", re.compile(self.pattern, re.IGNORECASE))

    def match(self, goal: str) -> dict[str, str] | None:
        slots = {"goal": goal.strip()}
        if self._regex is not None:
            found = self._regex.search(goal)
            if found is None:
                return None
            slots.update({k: v.strip() for k, v in found.groupdict().items() if v is not None})
        lowered = goal.lower()
        if not all(k.lower() in lowered for k in self.keywords):
            return None
        return slots

    def graph(self, slots: dict[str, str]) -> TaskGraph:
        if callable(self.template):
            made = self.template(slots)
            return made if isinstance(made, TaskGraph) else TaskGraph.parse(made)
        data = dict(_fill(self.template, slots))
        data.setdefault("goal", slots["goal"])
        return TaskGraph.parse(data)


def _fill(value: Any, slots: Mapping[str, str], in_params: bool = False) -> Any:
    """Fills ``{slot}`` holes. In params, where ``"$x"`` is a reference, text from
    the goal stays text: a filled string that starts with ``$`` only because of a
    slot's value is escaped to ``"$$..."`` (resolved back to the goal's text), so a
    goal like "research $search" cannot reference, or cycle on, a task's output."""
    if isinstance(value, str):
        whole = _SLOT.fullmatch(value)
        if whole and whole[1] in slots:
            filled = slots[whole[1]]
        else:
            filled = _SLOT.sub(lambda m: slots.get(m[1], m[0]), value)
        if in_params and filled.startswith("$") and not value.startswith("$"):
            filled = "$" + filled
        return filled
    if isinstance(value, Mapping):
        return {k: _fill(v, slots, in_params or k == "params") for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, slots, in_params) for v in value]
    return value


class RuleDecomposer(Decomposer):
    name = "rules"

    def __init__(self, rules: Iterable[Rule] | None = None) -> None:
        self.rules = list(default_rules() if rules is None else rules)

    def add(self, rule: Rule) -> None:
        self.rules.append(rule)

    async def decompose(self, goal: str, context: dict[str, Any]) -> TaskGraph:
        for rule in self.rules:
            slots = rule.match(goal)
            if slots is not None:
                graph = rule.graph(slots)
                return graph.check(context.get("catalogue"))
        names = ", ".join(r.name for r in self.rules) or "none"
        raise NoDecomposition(f"no rule matches the goal {goal!r} (rules: {names}); add a Rule "
                              "or use another decomposer")


def default_rules() -> list[Rule]:
    """The small default pack behind ``htdag run``: it plans over the example
    handlers in htdag.examples (search, summarize, combine, compare)."""
    research = {
        "tasks": [
            {"id": "search", "handler": "search", "description": "Find sources on {topic}",
             "params": {"topic": "{topic}"}},
            {"id": "summarize", "handler": "summarize", "map_over": "$search",
             "description": "Summarize each source", "params": {"topic": "{topic}"},
             "options": {"timeout": 30, "max_attempts": 3}},
            {"id": "report", "handler": "combine", "description": "Write a report on {topic}",
             "params": {"topic": "{topic}", "parts": "$summarize"}},
        ],
        "output": "report",
    }
    compare = {
        "tasks": [
            {"id": "left", "kind": "goal", "description": "research {a}"},
            {"id": "right", "kind": "goal", "description": "research {b}"},
            {"id": "verdict", "handler": "compare", "description": "Compare {a} with {b}",
             "params": {"left": "$left", "right": "$right"}},
        ],
        "output": "verdict",
    }
    return [
        Rule("compare", compare, pattern=r"^\s*compare\s+(?P<a>.+?)\s+(?:and|with|vs\.?|to)\s+"
                                         r"(?P<b>.+?)\s*$"),
        Rule("research", research, pattern=r"^\s*(?:research|summari[sz]e|investigate|"
                                           r"learn about)\s+(?P<topic>.+?)\s*$"),
    ]
