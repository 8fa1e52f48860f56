"""What a decomposition cost, filled in by the decomposer that answered and
stored by the planner beside the graph (htdag.decompositions): attempts, each
with its answer and the validator's errors, tokens, cost, time and model."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

# The planner puts a DecompositionRecord under this key of a decomposer's context.
RECORD_KEY = "decomposition"
# ...and the AsyncEngine the plan will run on (the plan cache's) under this one.
ENGINE_KEY = "engine"
# Context keys that are the planner's, not the caller's (not shown to a model).
PLANNER_KEYS = frozenset({"catalogue", RECORD_KEY, ENGINE_KEY, "depth", "max_depth",
                          "max_tasks"})
ANSWER_KEPT_CHARS = 20_000  # of each attempt's answer, in the record


@dataclass
class DecompositionRecord:
    """``attempts``: one dict per model answer (``answer``, ``errors``, ``notes``,
    ``prompt_tokens``, ``completion_tokens``, ``cost_usd``, ``latency_ms``);
    the totals are sums over them (None when no attempt reported one)."""

    decomposer: str | None = None
    model: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    model_ms: float | None = None

    def add_attempt(self, answer: str, errors: list[str], notes: list[str],
                    usage: dict[str, Any]) -> dict[str, Any]:
        kept = answer if len(answer) <= ANSWER_KEPT_CHARS else (
            answer[:ANSWER_KEPT_CHARS] + f"... [{len(answer)} characters in all]")
        attempt = {"attempt": len(self.attempts) + 1, "answer": _storable(kept),
                   "errors": [_storable(e) for e in errors], "notes": list(notes), **usage}
        self.attempts.append(attempt)
        self.prompt_tokens = _add(self.prompt_tokens, usage.get("prompt_tokens"))
        self.completion_tokens = _add(self.completion_tokens, usage.get("completion_tokens"))
        self.cost_usd = _add(self.cost_usd, usage.get("cost_usd"))
        self.model_ms = _add(self.model_ms, usage.get("latency_ms"))
        return attempt

    def figures(self) -> dict[str, Any]:
        """The totals, for events (without the answers)."""
        return {"model": self.model, "attempts": len(self.attempts) or None,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "cost_usd": self.cost_usd,
                "model_ms": None if self.model_ms is None else round(self.model_ms, 2)}


def _storable(text: str) -> str:
    """PostgreSQL cannot store U+0000: a model's NUL is kept as its escape."""
    return text.replace("\x00", "\\u0000")


def _add(total: Any, value: Any) -> Any:
    if value is None:
        return total
    return value if total is None else total + value


def record_in(context: MutableMapping[str, Any]) -> DecompositionRecord:
    """The record the planner passed in ``context``, else a new one (kept there)."""
    found = context.get(RECORD_KEY)
    if isinstance(found, DecompositionRecord):
        return found
    record = DecompositionRecord()
    context[RECORD_KEY] = record
    return record
