"""The built-in llm handler, called through a task graph with litellm's
mock_response (no provider is ever reached)."""

from __future__ import annotations

import pytest

from htdag.composer import acompose_from_task_graph
from htdag.core.engine import AsyncEngine
from htdag.handlers import HandlerRegistry, default_registry
from htdag.llm import build_messages, configure_llm, settings


@pytest.fixture
def mocked_llm():
    before = (dict(settings.models), settings.mock_response)
    configure_llm(simple="gpt-4o-mini", complex="gpt-4o", mock_response="a mocked answer")
    yield settings
    settings.models.clear()
    settings.models.update(before[0])
    settings.mock_response = before[1]


def registry() -> HandlerRegistry:
    reg = HandlerRegistry()

    @reg.handler("facts")
    def facts(topic: str) -> list[str]:
        return [f"{topic} is durable", f"{topic} is fast"]

    return reg.merged({"llm": default_registry.get("llm").fn})


async def test_an_llm_task_records_its_answer_model_tokens_and_cost(
        engine: AsyncEngine, mocked_llm: object) -> None:
    graph = {
        "goal": "explain postgres",
        "tasks": [
            {"id": "facts", "handler": "facts", "params": {"topic": "postgres"}},
            {"id": "explain", "handler": "llm", "description": "Explain it to a beginner",
             "params": {"inputs": "$facts", "complexity": "complex"}},
        ],
    }
    result = await acompose_from_task_graph(graph, engine=engine, handlers=registry(),
                                            timeout=30)
    out = result.output
    assert out["text"] == "a mocked answer"
    assert out["model"] == "gpt-4o" and out["complexity"] == "complex"
    assert out["usage"]["total_tokens"] > 0
    assert out["cost"] is not None and out["cost"] > 0


async def test_complexity_picks_the_configured_model(engine: AsyncEngine,
                                                     mocked_llm: object) -> None:
    graph = {"tasks": [{"id": "q", "handler": "llm", "description": "Say hi",
                        "params": {"complexity": "simple"}}]}
    result = await acompose_from_task_graph(graph, engine=engine, handlers=registry(),
                                            timeout=30)
    assert result.output["model"] == "gpt-4o-mini"


def test_the_prompt_holds_the_description_the_prompt_and_the_inputs() -> None:
    messages = build_messages("Summarize", "Be brief", {"a": [1, 2]}, "You are terse")
    assert messages[0] == {"role": "system", "content": "You are terse"}
    user = messages[1]["content"]
    assert user.startswith("Summarize\n\nBe brief\n\nInputs:")
    assert '"a"' in user


async def test_an_llm_task_with_nothing_to_ask_fails_at_once(engine: AsyncEngine,
                                                              mocked_llm: object) -> None:
    from htdag.core.errors import RunFailed

    graph = {"tasks": [{"id": "q", "handler": "llm"}]}
    with pytest.raises(RunFailed, match="nothing to ask") as info:
        await acompose_from_task_graph(graph, engine=engine, handlers=registry(), timeout=30)
    assert "attempt 1 of" in info.value.error


async def test_the_builtin_subgoal_handler_runs_a_goal_as_a_child(engine: AsyncEngine) -> None:
    from htdag.examples import example_handlers

    reg = example_handlers.merged({"subgoal": default_registry.get("subgoal").fn})
    graph = {"tasks": [{"id": "sub", "handler": "subgoal",
                        "params": {"goal": "research queues"}}]}
    result = await acompose_from_task_graph(graph, engine=engine, handlers=reg, timeout=30)
    assert result.output["topic"] == "queues"
    children = await engine.list_runs(parent_run_id=result.run_id)
    assert len(children) == 1 and children[0].depth == 1
