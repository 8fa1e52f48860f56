"""Goals with your own handlers, a rule of your own, and a subgoal.

    python examples/goals.py
"""

from __future__ import annotations

import htdag
from htdag.decomposers import Rule, RuleDecomposer, default_rules
from htdag.examples import example_handlers

registry = example_handlers.merged(None)


@registry.handler("shout", description="Upper-case a text.")
def shout(text: str) -> str:
    return text.upper() + "!"


# "announce <topic>": research the topic as a subgoal, then shout its report's topic.
announce = Rule("announce", {
    "tasks": [
        {"id": "research", "kind": "goal", "description": "research {topic}"},
        {"id": "loud", "handler": "shout", "params": {"text": "$research.topic"}},
    ],
    "output": "loud",
}, pattern=r"^announce (?P<topic>.+)$")

decomposer = RuleDecomposer([announce, *default_rules()])

if __name__ == "__main__":
    planner = htdag.Planner(decomposer, registry)
    result = planner.compose("announce durable execution", timeout=60)
    print(result.output, f"({result.timings['total_ms']:.0f} ms)")
