"""The plan a model writes: a flat JSON schema (no recursion, no oneOf: strict
decoders handle flat schemas far better), its pydantic model, the JSON taken
out of an answer, and the conversion to a TaskGraph."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from ..graph import TASK_ID


class PlanTask(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    kind: Literal["task", "goal"] = "task"
    handler: str = ""
    description: str = ""
    params: dict[str, Any] = {}
    depends_on: list[str] = []
    map_over: str = ""

    @field_validator("handler", "description", "map_over", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("params", mode="before")
    @classmethod
    def _no_params(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("depends_on", mode="before")
    @classmethod
    def _no_dependencies(cls, value: Any) -> Any:
        return [] if value is None else value


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tasks: list[PlanTask]
    output: str = ""

    @field_validator("output", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value


def plan_schema(handlers: list[str]) -> dict[str, Any]:
    """The JSON schema of a plan over ``handlers`` (for ``response_format``)."""
    task = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": f"^{TASK_ID}$",
                   "description": "unique id: a letter, then letters, digits or _"},
            "kind": {"type": "string", "enum": ["task", "goal"],
                     "description": "task: calls a handler; goal: a subgoal in words, "
                                    "planned when it runs"},
            "handler": {"type": "string", "enum": [*handlers, ""],
                        "description": "a handler of the catalogue; empty for kind goal"},
            "description": {"type": "string",
                            "description": "what this task does (for kind goal: the subgoal)"},
            "params": {"type": "object",
                       "description": "the handler's parameters by name; the value "
                                      "\"$id\" or \"$id.field\" is another task's output"},
            "depends_on": {"type": "array", "items": {"type": "string"},
                           "description": "ids of tasks that must finish first"},
            "map_over": {"type": "string",
                         "description": "\"$id\": run once per element of that task's "
                                        "output (a list), the element given as param "
                                        "'item'; empty otherwise"},
        },
        "required": ["id", "kind", "handler", "description", "params", "depends_on",
                     "map_over"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "tasks": {"type": "array", "items": task},
            "output": {"type": "string",
                       "description": "id of the task whose output is the result; empty "
                                      "when the plan has one last task"},
        },
        "required": ["tasks", "output"],
        "additionalProperties": False,
    }


_FENCE = re.compile(r"```[A-Za-z]*\s*\n?(.*?)```", re.S)


def extract_json(answer: str) -> tuple[Any, list[str]]:
    """The JSON object in ``answer`` and notes on where it was found: the whole
    answer, a code fence, or the first object in text around it. ValueError
    says what is wrong (its message goes back to the model)."""
    text = answer.strip()
    if not text:
        raise ValueError("the answer is empty: answer with the plan as one JSON object")
    try:
        return json.loads(text), []
    except ValueError as exc:
        whole_error = exc
    for fenced in _FENCE.findall(text):
        try:
            return json.loads(fenced.strip()), ["took the JSON out of a code fence"]
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    first_error: ValueError | None = None
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError as exc:
            first_error = first_error or exc
            continue
        if isinstance(value, dict) and "tasks" in value:
            return value, ["took the JSON object out of the text around it"]
    start = text.find("{")
    if start < 0:
        raise ValueError("the answer holds no JSON object: answer with the plan as one JSON "
                          "object, no text around it")
    if _unclosed(text[start:]):
        raise ValueError(f"the JSON is cut off: it ends after {len(text) - start} characters "
                          "with objects or strings still open; answer with the whole plan, "
                          "shorter if need be")
    error = whole_error if start == 0 else (first_error or whole_error)
    raise ValueError(f"the answer is not valid JSON ({error}); answer with one JSON object "
                      "only, no comments and no trailing commas")


def _unclosed(text: str) -> bool:
    """Whether brackets or a string are still open at the end of ``text``."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return in_string or depth > 0


def to_graph_data(plan: Plan, goal: str) -> dict[str, Any]:
    """The TaskGraph (as data) of a plan."""
    tasks = []
    for t in plan.tasks:
        task: dict[str, Any] = {"id": t.id, "kind": t.kind, "description": t.description,
                                "params": t.params, "depends_on": t.depends_on}
        if t.kind == "task":
            task["handler"] = t.handler or None
        if t.map_over:
            task["map_over"] = t.map_over
        tasks.append(task)
    return {"goal": goal, "tasks": tasks, "output": plan.output or None}
