"""Reference workflow: one LLM request, made durable.

    python examples/llm_request.py "Explain write-ahead logging"      # offline (mock answer)
    python examples/llm_request.py --api-base http://127.0.0.1:8000/v1 "..."  # a real server

The flow ``example.llm_request`` has four steps, each a task in PostgreSQL:

``validate``
    checks the request (a non-empty prompt of at most ``max_prompt_chars``, a
    known complexity) and fails the run at once with :class:`InvalidLLMRequest`
    (a NonRetryableError: one attempt, no retry) when it is wrong.
``route``
    picks the model: the request's ``complexity``, else one guessed from the
    prompt (:func:`classify_complexity`), mapped to a model by
    ``LLMRequestSettings.models`` (a dict you pass, or the environment's
    HTDAG_LLM_SIMPLE / _MEDIUM / _COMPLEX, as the built-in ``llm`` handler reads).
``call``
    calls the provider through ``litellm.acompletion`` (``api_base``
    configurable). litellm's and the OpenAI client's own retries are off, so
    htdag's retries are the only ones: rate limits (429), server errors (5xx),
    timeouts and refused connections raise :class:`ProviderUnavailable` and the
    task is retried with exponential backoff (``max_attempts``, ``base_delay``);
    a request the provider refuses (400, 401, 404) raises
    :class:`ProviderRefused` and fails at once. Its output holds the answer,
    the tokens, the cost in USD (litellm's price map) and the latency.
``publish``
    hands the result to a sink: :class:`ResultTable` inserts it into a
    PostgreSQL table keyed by the run id, ``ON CONFLICT DO NOTHING``, so a
    publish delivered twice (htdag delivers at least once) is stored once.
    Any object with an async ``publish(key, result)`` method will do.

The run's output is the published result.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import htdag
from htdag import Flow, NonRetryableError, TaskContext
from htdag.llm import LLMSettings

if not __package__:  # loaded by its path (python examples/llm_request.py): find examples/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from examples._litellm import ProviderRefused as ProviderRefused  # re-exported
from examples._litellm import ProviderUnavailable as ProviderUnavailable
from examples._litellm import call_options, import_litellm, provider_error

Complexity = Literal["simple", "medium", "complex"]
FLOW_NAME = "example.llm_request"


class InvalidLLMRequest(NonRetryableError):
    """The request is invalid: give a non-empty prompt within the length limit."""


class LLMRequest(BaseModel):
    """What a run of the flow gets as its input."""

    model_config = ConfigDict(extra="forbid")
    prompt: str
    system: str | None = None
    complexity: Complexity | None = None
    max_tokens: int | None = Field(default=None, ge=1)


@dataclass(frozen=True)
class LLMRequestSettings:
    """Where requests go: the model for each complexity, the provider's address
    (``api_base``, ``api_key``), the longest prompt accepted, the timeout of one
    call and, for demos without a provider, litellm's ``mock_response``."""

    models: Mapping[str, str] = field(default_factory=lambda: LLMSettings().models)
    api_base: str | None = None
    api_key: str | None = None
    max_prompt_chars: int = 8000
    request_timeout: float = 60.0
    mock_response: str | None = None


class ResultSink(Protocol):
    """Where a result is published; ``key`` is stable across redeliveries."""

    async def publish(self, key: str, result: Mapping[str, Any]) -> None: ...


_COMPLEX_HINTS = re.compile(
    r"\b(prove|derive|design|architect|analy[sz]e|compare|trade-?offs?|step by step|plan)\b",
    re.IGNORECASE)


def classify_complexity(prompt: str) -> Complexity:
    """A cheap guess from the prompt: long prompts and reasoning words are
    complex, short plain ones simple, the rest medium."""
    if len(prompt) > 2000 or _COMPLEX_HINTS.search(prompt):
        return "complex"
    if len(prompt) <= 200 and prompt.count("\n") < 3:
        return "simple"
    return "medium"


def validate_request(raw: Any, max_prompt_chars: int) -> LLMRequest:
    """The request as a model; InvalidLLMRequest saying what is wrong otherwise."""
    try:
        request = LLMRequest.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}"
                             for e in exc.errors())
        raise InvalidLLMRequest(f"the LLM request is invalid ({problems}); pass "
                                '{"prompt": "...", "complexity": "simple|medium|complex"}'
                                ) from None
    if not request.prompt.strip():
        raise InvalidLLMRequest("the prompt is empty: say what to ask the model")
    if len(request.prompt) > max_prompt_chars:
        raise InvalidLLMRequest(f"the prompt has {len(request.prompt)} characters, over the "
                                f"limit of {max_prompt_chars}: shorten it or raise "
                                "max_prompt_chars")
    return request


async def complete(settings: LLMRequestSettings, model: str,
                   messages: list[dict[str, str]], max_tokens: int | None) -> dict[str, Any]:
    """One call of the model: its answer, tokens, cost (USD) and latency (ms)."""
    litellm = import_litellm()
    kwargs = call_options(api_base=settings.api_base, api_key=settings.api_key,
                          mock_response=settings.mock_response,
                          timeout=settings.request_timeout)
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    started = time.perf_counter()
    try:
        response = await litellm.acompletion(model=model, messages=messages, **kwargs)
    except Exception as exc:  # every provider failure is classified
        raise provider_error(model, exc) from exc
    latency_ms = (time.perf_counter() - started) * 1000
    usage = response.usage
    try:
        cost: float | None = float(litellm.completion_cost(completion_response=response))
    except Exception:  # noqa: BLE001 - a model litellm has no price for costs "unknown"
        cost = None
    return {"text": response.choices[0].message.content, "model": model,
            "usage": {"prompt_tokens": usage.prompt_tokens,
                      "completion_tokens": usage.completion_tokens,
                      "total_tokens": usage.total_tokens},
            "cost_usd": cost, "latency_ms": round(latency_ms, 3)}


def build_flow(settings: LLMRequestSettings, sink: ResultSink, *, max_attempts: int = 5,
               base_delay: float = 1.0, max_delay: float = 30.0) -> Flow:
    """The flow validate -> route -> call -> publish for these settings; give
    it to a worker (``engine.worker([flow])``) and start runs of it with an
    :class:`LLMRequest` as input. The retry options apply to ``call`` and
    ``publish``."""
    flow = Flow(FLOW_NAME, output="publish")
    retries: dict[str, Any] = {"max_attempts": max_attempts, "base_delay": base_delay,
                               "max_delay": max_delay}

    # Validation is retried like the rest, yet fails at once: its errors are non-retryable.
    @flow.step(**retries)
    def validate(inp: dict[str, Any]) -> dict[str, Any]:
        return validate_request(inp["run"], settings.max_prompt_chars).model_dump()

    @flow.step(depends_on=["validate"], **retries)
    def route(inp: dict[str, Any]) -> dict[str, Any]:
        request = inp["validate"]
        complexity = request["complexity"] or classify_complexity(request["prompt"])
        model = settings.models.get(complexity)
        if not model:
            raise NonRetryableError(f"no model is configured for complexity {complexity!r}: "
                                    "add it to LLMRequestSettings.models")
        return {**request, "complexity": complexity, "model": model}

    @flow.step(depends_on=["route"], timeout=settings.request_timeout + 5, **retries)
    async def call(inp: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
        request = inp["route"]
        messages = ([{"role": "system", "content": request["system"]}]
                    if request["system"] else [])
        messages.append({"role": "user", "content": request["prompt"]})
        answer = await complete(settings, request["model"], messages, request["max_tokens"])
        return {**answer, "complexity": request["complexity"], "attempt": ctx.attempt}

    @flow.step(depends_on=["call"], **retries)
    async def publish(inp: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
        result = {**inp["call"], "request_id": str(ctx.run_id)}
        await sink.publish(str(ctx.run_id), result)
        return result

    return flow


class ResultTable:
    """Publishes results into a PostgreSQL table (``htdag_example_llm_results``
    by default), one row per request; a second publish of the same key changes
    nothing. Call :meth:`create` once before the first publish."""

    def __init__(self, url: str, table: str = "htdag_example_llm_results") -> None:
        self.url = url
        self.table = sql.Identifier(table)

    async def create(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await conn.execute(sql.SQL(
                "create table if not exists {} (request_id text primary key, model text not "
                "null, complexity text not null, answer text, prompt_tokens int, "
                "completion_tokens int, cost_usd double precision, latency_ms double precision, "
                "published_at timestamptz not null default now())").format(self.table))

    async def publish(self, key: str, result: Mapping[str, Any]) -> None:
        usage = result["usage"]
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await conn.execute(sql.SQL(
                "insert into {} (request_id, model, complexity, answer, prompt_tokens, "
                "completion_tokens, cost_usd, latency_ms) values (%s, %s, %s, %s, %s, %s, %s, "
                "%s) on conflict (request_id) do nothing").format(self.table),
                (key, result["model"], result["complexity"], result["text"],
                 usage["prompt_tokens"], usage["completion_tokens"], result["cost_usd"],
                 result["latency_ms"]))

    async def rows(self) -> list[dict[str, Any]]:
        """Every published result, oldest first."""
        from psycopg.rows import dict_row

        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(sql.SQL("select * from {} order by published_at").format(
                self.table))
            return await cur.fetchall()


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("prompt")
    parser.add_argument("--complexity", choices=["simple", "medium", "complex"])
    parser.add_argument("--api-base", help="an OpenAI-compatible server; none: a mock answer")
    args = parser.parse_args(argv)
    settings = LLMRequestSettings(
        api_base=args.api_base, api_key=os.environ.get("OPENAI_API_KEY", "not-needed"),
        mock_response=None if args.api_base else "A mocked answer (pass --api-base).")
    async with await htdag.aconnect() as engine:
        sink = ResultTable(engine.url)
        await sink.create()
        flow = build_flow(settings, sink)
        # A worker in this process until the engine closes.
        engine.start_local_worker(flow.name, engine.worker([flow], concurrency=4))
        run = await engine.start(flow, {"prompt": args.prompt, "complexity": args.complexity})
        return dict(await run.wait(timeout=300))


if __name__ == "__main__":
    result = asyncio.run(main())
    print(f"{result['model']} ({result['complexity']}): {result['text']}")
    print(f"tokens {result['usage']['total_tokens']}, cost ${result['cost_usd'] or 0:.6f}, "
          f"latency {result['latency_ms']:.0f} ms, attempt {result['attempt']}")
