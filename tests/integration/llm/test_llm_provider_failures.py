"""Provider failures through litellm's real request path: rate limits, server
errors and timeouts are retried with backoff (ours: litellm's and the OpenAI
client's own retries are off, so the server sees exactly our tries), then a
clear error; a request the provider refuses is not retried."""

from __future__ import annotations

import time

import pytest
from _openai_server import Reply, ScriptedOpenAIServer, free_port
from _plan_faults import GOAL, GOOD, catalogue

from htdag.decomposers import DecompositionRecord, LLMDecomposer, LLMProviderError


def decomposer(api_base: str, **options: object) -> LLMDecomposer:
    settings: dict[str, object] = {"backoff_first": 0.05, "backoff_cap": 0.1, **options}
    return LLMDecomposer("openai/scripted", api_base=api_base, **settings)  # type: ignore[arg-type]


async def test_a_429_and_a_500_are_retried_then_the_plan_is_taken() -> None:
    with ScriptedOpenAIServer([Reply(status=429), Reply(status=500), GOOD]) as server:
        context = {"catalogue": catalogue()}
        graph = await decomposer(server.url).decompose(GOAL, context)
    assert [t.id for t in graph.tasks] == ["search", "summarize", "report"]
    assert len(server.requests) == 3
    assert server.requests[0].json == server.requests[2].json  # the same request again
    record = context["decomposition"]
    assert isinstance(record, DecompositionRecord)
    [attempt] = record.attempts  # one answer, after three tries
    assert attempt["tries"] == 3 and attempt["errors"] == []


async def test_a_provider_that_keeps_failing_gives_a_clear_error_after_the_retries() -> None:
    with ScriptedOpenAIServer([Reply(status=500)] * 10) as server:
        with pytest.raises(LLMProviderError, match=r"failed 3 times \(InternalServerError"):
            await decomposer(server.url, max_retries=2).decompose(
                GOAL, {"catalogue": catalogue()})
    assert len(server.requests) == 3


async def test_a_refused_connection_is_retried_with_backoff_then_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.perf_counter()
    with pytest.raises(LLMProviderError) as info:
        await decomposer(url, max_retries=3, backoff_first=0.1, backoff_cap=0.1).decompose(
            GOAL, {"catalogue": catalogue()})
    assert "failed 4 times" in str(info.value)
    assert "check that its provider is reachable" in str(info.value)
    assert time.perf_counter() - started >= 3 * 0.1 * 0.5  # three sleeps, jitter at most half


async def test_a_timeout_is_retried() -> None:
    with ScriptedOpenAIServer([Reply(GOOD, delay=1.5), GOOD]) as server:
        graph = await decomposer(server.url, timeout=0.5).decompose(
            GOAL, {"catalogue": catalogue()})
    assert graph.output == "report"
    assert len(server.requests) == 2


async def test_a_request_the_provider_refuses_is_not_retried() -> None:
    with ScriptedOpenAIServer([Reply(status=400, content="bad parameter")] * 3) as server:
        with pytest.raises(LLMProviderError, match=r"refused the request .*bad parameter"):
            await decomposer(server.url).decompose(GOAL, {"catalogue": catalogue()})
    assert len(server.requests) == 1
