"""LLMDecomposer: a model plans the goal over the handler catalogue, a
deterministic validator checks the plan, and the validator's errors go back to
the model for at most ``max_repairs`` rounds: a LangGraph graph of plan ->
validate -> repair. Any litellm provider; litellm and langgraph are imported on
first use."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from ..graph import TaskGraph
from ..handlers import HandlerRegistry
from ._errors import DecompositionFailed, EmptyCatalogue, GoalTooLong, LLMConfigurationError
from ._plan import plan_schema
from ._prompt import first_messages, repair_messages
from ._provider import Answer, check_model, complete, supports_schema
from ._record import PLANNER_KEYS, DecompositionRecord, record_in
from ._validate import Limits, check_answer
from .base import Decomposer, NoDecomposition

MAX_GOAL_CHARS = 20_000
MAX_ANSWER_CHARS = 200_000


@dataclass
class _Job:
    """One decomposition: what every node of the loop needs."""

    goal: str
    catalogue: HandlerRegistry
    limits: Limits
    record: DecompositionRecord
    request: dict[str, Any]  # litellm arguments besides model and messages


class _State(TypedDict, total=False):
    job: _Job
    messages: list[dict[str, str]]
    answer: Answer
    errors: list[str]
    graph: TaskGraph | None
    repairs: int


class LLMDecomposer(Decomposer):
    """Plans goals with a model through litellm.

    ``model`` (default: env HTDAG_LLM_MODEL) is any litellm model: "gpt-4o-mini",
    "anthropic/...", "ollama/...", or "openai/<name>" with ``api_base`` (default:
    env HTDAG_LLM_API_BASE) for an OpenAI-compatible server. ``max_repairs``
    bounds the rounds that send the validator's errors back; provider failures
    are tried ``max_retries`` more times with backoff (``backoff_first`` seconds,
    doubling up to ``backoff_cap``, with jitter), each request bounded by
    ``timeout`` seconds. ``max_tasks`` bounds a plan (the planner's max_tasks too,
    when smaller), ``max_goal_chars`` a goal and ``max_answer_chars`` an answer.
    ``completion_kwargs`` go to ``litellm.acompletion`` as they are."""

    name = "llm"

    def __init__(self, model: str | None = None, *, api_base: str | None = None,
                 api_key: str | None = None, max_repairs: int = 2, temperature: float = 0.0,
                 timeout: float = 120.0, max_retries: int = 3, backoff_first: float = 0.5,
                 backoff_cap: float = 8.0, max_tasks: int = 25, max_tokens: int = 4096,
                 max_goal_chars: int = MAX_GOAL_CHARS,
                 max_answer_chars: int = MAX_ANSWER_CHARS,
                 structured_output: bool | None = None,
                 completion_kwargs: Mapping[str, Any] | None = None) -> None:
        chosen = model or os.environ.get("HTDAG_LLM_MODEL")
        if not chosen:
            raise LLMConfigurationError()
        for label, value, low in (("max_repairs", max_repairs, 0), ("max_retries", max_retries, 0),
                                  ("max_tasks", max_tasks, 1), ("max_tokens", max_tokens, 1),
                                  ("max_goal_chars", max_goal_chars, 1),
                                  ("max_answer_chars", max_answer_chars, 1)):
            if not isinstance(value, int) or value < low:
                raise LLMConfigurationError(f"{label} must be an integer >= {low}, got {value!r}")
        if timeout <= 0 or backoff_first < 0 or backoff_cap < backoff_first:
            raise LLMConfigurationError(
                "timeout must be > 0 and 0 <= backoff_first <= backoff_cap")
        self.model = chosen
        self.api_base = api_base or os.environ.get("HTDAG_LLM_API_BASE") or None
        self.api_key = api_key or os.environ.get("HTDAG_LLM_API_KEY") or None
        self.max_repairs = max_repairs
        self.temperature = temperature
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_first = backoff_first
        self.backoff_cap = backoff_cap
        self.max_tasks = max_tasks
        self.max_tokens = max_tokens
        self.max_goal_chars = max_goal_chars
        self.max_answer_chars = max_answer_chars
        self.structured_output = structured_output
        self.completion_kwargs = dict(completion_kwargs or {})
        self.provider: str | None = None  # known once check() ran
        self._loop: Any = None

    def __repr__(self) -> str:
        where = f" at {self.api_base}" if self.api_base else ""
        return f"<LLMDecomposer {self.model}{where}, max_repairs={self.max_repairs}>"

    def check(self) -> None:
        """Checks that litellm knows the model (UnknownModelError if not) and
        whether it takes a JSON schema as response_format. Runs on first use."""
        self.provider = check_model(self.model, self.api_base)
        if self.structured_output is None:
            self.structured_output = supports_schema(self.model)

    async def decompose(self, goal: str, context: dict[str, Any]) -> TaskGraph:
        if not isinstance(goal, str) or not goal.strip():
            raise NoDecomposition("the goal is empty: say in words what should be done")
        if len(goal) > self.max_goal_chars:
            raise GoalTooLong(
                f"the goal is {len(goal)} characters long, over the limit of "
                f"{self.max_goal_chars} (max_goal_chars): shorten it, or pass the material "
                "as a task's params and state the goal itself briefly")
        catalogue = _catalogue(context.get("catalogue"))
        if self.provider is None:
            self.check()
        record = record_in(context)
        record.decomposer, record.model = self.name, self.model
        job = _Job(goal, catalogue, self._limits(context), record, self._request(catalogue))
        caller = {k: v for k, v in context.items() if k not in PLANNER_KEYS}
        messages = first_messages(goal, catalogue, plan_schema(catalogue.names()), job.limits,
                                  caller)
        final = await self._graph().ainvoke(
            {"job": job, "messages": messages, "repairs": 0, "graph": None},
            config={"recursion_limit": 3 * (self.max_repairs + 1) + 5})
        graph = final.get("graph")
        if graph is None:
            errors = "; ".join(final.get("errors") or [])
            raise DecompositionFailed(
                f"the model {self.model!r} gave no valid plan for the goal in "
                f"{len(record.attempts)} attempts (max_repairs={self.max_repairs}); the last "
                f"one's errors: {errors}", record.attempts)
        assert isinstance(graph, TaskGraph)
        return graph

    # the loop ------------------------------------------------------------------

    def _limits(self, context: Mapping[str, Any]) -> Limits:
        planner_max = context.get("max_tasks")
        max_tasks = min(self.max_tasks, planner_max if isinstance(planner_max, int)
                        else math.inf)
        return Limits(max_tasks=int(max_tasks), max_answer_chars=self.max_answer_chars,
                      depth=int(context.get("depth") or 0),
                      max_depth=int(context.get("max_depth") or 10))

    def _request(self, catalogue: HandlerRegistry) -> dict[str, Any]:
        request: dict[str, Any] = {"temperature": self.temperature, "timeout": self.timeout,
                                   "max_tokens": self.max_tokens, "drop_params": True}
        if self.api_base:
            request["api_base"] = self.api_base
        api_key = self.api_key
        if api_key is None and self.api_base and self.provider == "openai" \
                and not os.environ.get("OPENAI_API_KEY"):
            api_key = "not-needed"  # local OpenAI-compatible servers want no key
        if api_key:
            request["api_key"] = api_key
        if self.structured_output:
            request["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "task_graph", "schema": plan_schema(catalogue.names()),
                "strict": False}}
        request.update(self.completion_kwargs)
        return request

    def _graph(self) -> Any:
        if self._loop is None:
            self._loop = _build_loop(self)
        return self._loop


def _catalogue(found: Any) -> HandlerRegistry:
    if found is None:
        from ..handlers import default_registry

        found = default_registry
    if isinstance(found, HandlerRegistry):
        catalogue = found
    elif isinstance(found, Mapping):
        catalogue = HandlerRegistry().merged(found)
    else:
        raise EmptyCatalogue(f"the catalogue must be a HandlerRegistry or a name -> function "
                             f"mapping, got {type(found).__name__}")
    if len(catalogue) == 0:
        raise EmptyCatalogue("the handler catalogue is empty, so no plan could call anything: "
                             "register handlers (@htdag.handler) or pass a HandlerRegistry")
    return catalogue


def _build_loop(decomposer: LLMDecomposer) -> Any:
    """plan -> validate -> (done | repair -> plan | failed)."""
    from langgraph.graph import END, START, StateGraph

    async def plan(state: _State) -> _State:
        job = state["job"]
        answer = await complete(decomposer.model, state["messages"],
                                max_retries=decomposer.max_retries,
                                backoff_first=decomposer.backoff_first,
                                backoff_cap=decomposer.backoff_cap, **job.request)
        return {"answer": answer}

    def validate(state: _State) -> _State:
        job, answer = state["job"], state["answer"]
        checked = check_answer(answer.text, job.goal, job.catalogue, job.limits)
        if checked.errors and answer.finish_reason == "length":
            checked.errors.append(f"the answer was cut off at {decomposer.max_tokens} tokens "
                                  "(max_tokens): make the plan shorter")
        job.record.add_attempt(answer.text, checked.errors, checked.notes, answer.usage)
        return {"graph": checked.graph, "errors": checked.errors}

    def repair(state: _State) -> _State:
        return {"messages": [*state["messages"],
                             *repair_messages(state["answer"].text, state["errors"])],
                "repairs": state["repairs"] + 1}

    def route(state: _State) -> str:
        if state.get("graph") is not None:
            return "done"
        return "repair" if state["repairs"] < decomposer.max_repairs else "failed"

    loop: Any = StateGraph(_State)
    loop.add_node("plan", plan)
    loop.add_node("validate", validate)
    loop.add_node("repair", repair)
    loop.add_edge(START, "plan")
    loop.add_edge("plan", "validate")
    loop.add_conditional_edges("validate", route, {"done": END, "repair": "repair",
                                                   "failed": END})
    loop.add_edge("repair", "plan")
    compiled: Callable[..., Any] = loop.compile()
    return compiled
