"""examples/llm_request.py through litellm's real request path to the local
OpenAI-compatible server: routed by complexity, tokens, cost and latency in
the output and the published row; bad input fails at once; provider errors
are retried by htdag."""

from __future__ import annotations

import os
from typing import Any

import pytest
from _openai_server import Reply, ScriptedOpenAIServer

from examples.llm_request import LLMRequestSettings, ResultTable, build_flow, classify_complexity
from htdag.core.engine import AsyncEngine
from htdag.errors import RunFailed

from .._support import Db, running_worker

MODELS = {"simple": "openai/gpt-4o-mini", "medium": "openai/gpt-4o", "complex": "openai/gpt-4.1"}


@pytest.fixture
def server() -> Any:
    with ScriptedOpenAIServer() as scripted:
        yield scripted


@pytest.fixture
async def sink(dsn: str) -> ResultTable:
    table = ResultTable(dsn)
    await table.create()
    return table


async def run_request(engine: AsyncEngine, server: ScriptedOpenAIServer, sink: ResultTable,
                      request: dict[str, Any], **settings: Any) -> Any:
    flow = build_flow(LLMRequestSettings(models=MODELS, api_base=server.url, api_key="test",
                                         **settings), sink, base_delay=0.02, max_delay=0.05)
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, request)
        return run.run_id, await run.wait(timeout=30)


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    entry = litellm.model_cost[model]
    return float(prompt_tokens * entry["input_cost_per_token"]
                 + completion_tokens * entry["output_cost_per_token"])


async def test_a_simple_request_is_answered_with_tokens_cost_and_latency_and_published(
        engine: AsyncEngine, server: ScriptedOpenAIServer, sink: ResultTable) -> None:
    server.add(Reply("Paris.", delay=0.2, prompt_tokens=30, completion_tokens=5))
    run_id, out = await run_request(engine, server, sink, {"prompt": "Capital of France?"})

    assert (out["text"], out["complexity"], out["model"]) == ("Paris.", "simple", MODELS["simple"])
    [request] = server.requests
    assert request.json["model"] == "gpt-4o-mini"
    assert request.last_user_message == "Capital of France?"
    assert out["usage"] == {"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35}
    assert out["cost_usd"] == pytest.approx(price("gpt-4o-mini", 30, 5))
    assert out["latency_ms"] >= 200
    [row] = await sink.rows()
    assert row["request_id"] == str(run_id) == out["request_id"]
    assert (row["answer"], row["prompt_tokens"], row["completion_tokens"]) == ("Paris.", 30, 5)
    assert row["cost_usd"] == pytest.approx(out["cost_usd"])
    assert row["latency_ms"] == pytest.approx(out["latency_ms"])


@pytest.mark.parametrize(("request_", "complexity"), [
    ({"prompt": "Compare the trade-offs of B-trees and LSM trees."}, "complex"),
    ({"prompt": "word " * 60}, "medium"),
    ({"prompt": "Hi", "complexity": "medium"}, "medium"),
])
async def test_each_complexity_goes_to_its_configured_model(
        engine: AsyncEngine, server: ScriptedOpenAIServer, sink: ResultTable,
        request_: dict[str, Any], complexity: str) -> None:
    server.add("an answer")
    _, out = await run_request(engine, server, sink, request_)
    assert out["complexity"] == complexity
    assert server.requests[0].json["model"] == MODELS[complexity].removeprefix("openai/")
    assert out["cost_usd"] == pytest.approx(price(MODELS[complexity].removeprefix("openai/"),
                                                  120, 40))


def test_complexity_is_guessed_from_length_and_reasoning_words() -> None:
    assert classify_complexity("What time is it?") == "simple"
    assert classify_complexity("Design a schema for orders") == "complex"
    assert classify_complexity("x" * 2001) == "complex"
    assert classify_complexity("x" * 500) == "medium"


@pytest.mark.parametrize(("request_", "message"), [
    ({"prompt": "   "}, "the prompt is empty"),
    ({"prompt": "x" * 51}, "51 characters, over the limit of 50"),
    ({"text": "no prompt"}, "prompt: Field required"),
    ({"prompt": "hi", "complexity": "huge"}, "complexity: Input should be"),
])
async def test_a_bad_request_fails_at_once_without_calling_the_provider(
        engine: AsyncEngine, server: ScriptedOpenAIServer, sink: ResultTable, db: Db,
        request_: dict[str, Any], message: str) -> None:
    with pytest.raises(RunFailed, match=message) as info:
        await run_request(engine, server, sink, request_, max_prompt_chars=50)
    assert info.value.step == "validate"
    attempts = await db.attempts(info.value.run_id)
    assert [(a["step_name"], a["outcome"]) for a in attempts] == [("validate", "failed")]
    assert server.requests == []
    assert await sink.rows() == []


@pytest.mark.parametrize("failures", [[Reply(status=500)],
                                      [Reply(status=429), Reply(status=503)]])
async def test_provider_errors_are_retried_by_htdag_until_an_answer(
        engine: AsyncEngine, server: ScriptedOpenAIServer, sink: ResultTable, db: Db,
        failures: list[Reply]) -> None:
    server.add(*failures, "at last")
    run_id, out = await run_request(engine, server, sink, {"prompt": "Hello?"})
    assert out["text"] == "at last"
    assert out["attempt"] == len(failures) + 1
    assert len(server.requests) == len(failures) + 1  # litellm's own retries are off
    calls = [a for a in await db.attempts(run_id) if a["step_name"] == "call"]
    assert [a["outcome"] for a in calls] == ["failed"] * len(failures) + ["completed"]
    assert all("ProviderUnavailable" in a["error"] for a in calls[:-1])
    assert len(await sink.rows()) == 1


async def test_a_request_the_provider_refuses_fails_at_once(
        engine: AsyncEngine, server: ScriptedOpenAIServer, sink: ResultTable) -> None:
    server.add(*[Reply("bad parameter", status=400)] * 3)
    with pytest.raises(RunFailed, match="refused the request") as info:
        await run_request(engine, server, sink, {"prompt": "Hello?"})
    assert info.value.step == "call"
    assert len(server.requests) == 1


async def test_a_result_published_twice_is_stored_once(sink: ResultTable) -> None:
    result = {"model": "m", "complexity": "simple", "text": "first", "cost_usd": 0.1,
              "latency_ms": 1.0, "usage": {"prompt_tokens": 1, "completion_tokens": 2}}
    await sink.publish("run-1", result)
    await sink.publish("run-1", {**result, "text": "second"})
    assert [r["answer"] for r in await sink.rows()] == ["first"]
