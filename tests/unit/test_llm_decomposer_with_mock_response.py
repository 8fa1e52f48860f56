"""The LLM decomposer through litellm's mock_response (no provider is reached):
configuration, the structured-output choice, litellm's token and cost figures,
the repair bound and provider errors."""

from __future__ import annotations

import json

import pytest
from _plan_faults import GOAL, GOOD, catalogue, good_plan

from htdag.decomposers import (
    DecompositionFailed,
    DecompositionRecord,
    LLMConfigurationError,
    LLMDecomposer,
    LLMProviderError,
    UnknownModelError,
)


def mocked(answer: object, **options: object) -> LLMDecomposer:
    settings: dict[str, object] = {"backoff_first": 0.0, "backoff_cap": 0.0, **options}
    return LLMDecomposer("gpt-4o-mini", completion_kwargs={"mock_response": answer},
                         **settings)  # type: ignore[arg-type]


async def test_a_valid_plan_is_taken_with_litellms_tokens_and_cost() -> None:
    context = {"catalogue": catalogue()}
    graph = await mocked(GOOD).decompose(GOAL, context)
    assert graph.model_dump(mode="json")["tasks"][1]["map_over"] == "$search"
    record = context["decomposition"]
    assert isinstance(record, DecompositionRecord)
    assert record.model == "gpt-4o-mini" and len(record.attempts) == 1
    assert record.prompt_tokens and record.completion_tokens
    assert record.cost_usd is not None and record.cost_usd > 0
    assert record.model_ms is not None and record.model_ms > 0


async def test_a_model_with_schema_support_gets_the_plan_schema_as_response_format() -> None:
    decomposer = mocked(GOOD)
    await decomposer.decompose(GOAL, {"catalogue": catalogue()})
    assert decomposer.structured_output is True
    request = decomposer._request(catalogue())
    schema = request["response_format"]["json_schema"]["schema"]
    task = schema["properties"]["tasks"]["items"]
    assert task["properties"]["handler"]["enum"] == ["combine", "search", "summarize", ""]
    flat = json.dumps(schema)
    assert "$ref" not in flat and "oneOf" not in flat and "anyOf" not in flat
    assert request["temperature"] == 0 and request["max_tokens"] == 4096


async def test_repairs_stop_after_max_repairs_with_every_attempt_in_the_error() -> None:
    bad = good_plan()
    bad["tasks"][2]["params"] = {"parts": "$summarize"}
    with pytest.raises(DecompositionFailed) as info:
        await mocked(json.dumps(bad), max_repairs=1).decompose(GOAL, {"catalogue": catalogue()})
    assert len(info.value.attempts) == 2
    for attempt in info.value.attempts:
        assert attempt["errors"] == ["task 'report', params of handler 'combine': topic: "
                                     "Field required"]
    assert "in 2 attempts (max_repairs=1)" in str(info.value)


async def test_rate_limits_are_retried_then_a_provider_error() -> None:
    import litellm

    limit = litellm.RateLimitError("slow down", "openai", "gpt-4o-mini")
    with pytest.raises(LLMProviderError, match="failed 3 times"):
        await mocked(limit, max_retries=2).decompose(GOAL, {"catalogue": catalogue()})


async def test_a_model_litellm_does_not_know_fails_before_any_call() -> None:
    decomposer = LLMDecomposer("gpt-4o-mny", completion_kwargs={"mock_response": GOOD})
    with pytest.raises(UnknownModelError, match="does not know the model 'gpt-4o-mny'"):
        await decomposer.decompose(GOAL, {"catalogue": catalogue()})


def test_an_openai_compatible_server_takes_any_model_name() -> None:
    decomposer = LLMDecomposer("openai/my-local-model", api_base="http://127.0.0.1:1/v1")
    decomposer.check()
    assert decomposer.provider == "openai" and decomposer.structured_output is False


def test_the_model_and_server_come_from_the_environment(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setenv("HTDAG_LLM_MODEL", "ollama/llama3")
    monkeypatch.setenv("HTDAG_LLM_API_BASE", "http://127.0.0.1:11434")
    decomposer = LLMDecomposer()
    assert (decomposer.model, decomposer.api_base) == ("ollama/llama3", "http://127.0.0.1:11434")
    monkeypatch.delenv("HTDAG_LLM_MODEL")
    with pytest.raises(LLMConfigurationError, match="give a model"):
        LLMDecomposer()


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(LLMConfigurationError, match="max_repairs must be an integer >= 0"):
        LLMDecomposer("gpt-4o-mini", max_repairs=-1)
