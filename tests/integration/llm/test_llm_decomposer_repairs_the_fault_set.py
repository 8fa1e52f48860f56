"""The scripted fault set through litellm's real request path to a local
OpenAI-compatible server: each faulty answer is repaired on the next attempt,
the validator's error goes back to the model verbatim, and every attempt is
recorded with its answer and errors."""

from __future__ import annotations

import json

import pytest
from _openai_server import ScriptedOpenAIServer
from _plan_faults import GOAL, GOOD, MAX_TASKS, Fault, catalogue, faults, good_plan

from htdag.decomposers import DecompositionFailed, DecompositionRecord, LLMDecomposer
from htdag.errors import NoDecomposition


def decomposer(server: ScriptedOpenAIServer) -> LLMDecomposer:
    return LLMDecomposer("openai/scripted", api_base=server.url, max_tasks=MAX_TASKS,
                         backoff_first=0.01, backoff_cap=0.02)


@pytest.mark.parametrize("fault", faults(), ids=lambda f: f.name.replace(" ", "_"))
async def test_a_faulty_answer_is_repaired_on_the_next_attempt(fault: Fault) -> None:
    with ScriptedOpenAIServer([fault.answer, GOOD]) as server:
        context = {"catalogue": catalogue(), **fault.context}
        graph = await decomposer(server).decompose(GOAL, context)
    assert [t.id for t in graph.tasks] == ["search", "summarize", "report"]
    assert graph.goal == GOAL and graph.output == "report"
    assert len(server.requests) == fault.attempts

    record = context["decomposition"]
    assert isinstance(record, DecompositionRecord)
    assert record.model == "openai/scripted" and record.decomposer == "llm"
    assert [a["attempt"] for a in record.attempts] == list(range(1, fault.attempts + 1))
    assert record.attempts[0]["answer"] == fault.answer
    assert record.attempts[-1]["errors"] == []
    assert record.prompt_tokens == 120 * fault.attempts  # the server's usage, summed
    if fault.attempts == 1:
        assert record.attempts[0]["notes"] == ["took the JSON object out of the text around it"]
        return
    errors = record.attempts[0]["errors"]
    assert any(fault.expected in e for e in errors), errors
    # The repair request carries the rejected answer and the errors, verbatim.
    repair = server.requests[1]
    assert repair.messages[-2] == {"role": "assistant", "content": fault.answer}
    for error in errors:
        assert f"- {error}" in repair.last_user_message


async def test_the_first_request_carries_goal_catalogue_schema_limits_and_context() -> None:
    with ScriptedOpenAIServer([GOOD]) as server:
        await decomposer(server).decompose(
            GOAL, {"catalogue": catalogue(), "audience": "new engineers", "max_depth": 4})
    [request] = server.requests
    assert request.headers["authorization"].startswith("Bearer ")
    assert request.headers["content-type"] == "application/json"
    body = request.json
    assert body["model"] == "scripted"
    assert body["temperature"] == 0 and body["max_tokens"] == 4096
    assert "response_format" not in body  # litellm knows no schema support for it
    system, user = body["messages"]
    assert "only handlers of the catalogue exist" in system["content"].lower()
    text = user["content"]
    assert f'"{GOAL}"' in text
    for name in ("search", "summarize", "combine"):
        assert f'"name": "{name}"' in text
    assert '"limit": {"default": 3, "type": "integer"}' in text  # the handler's schema
    assert '"map_over"' in text and '"depends_on"' in text  # the plan's schema
    assert f"at most {MAX_TASKS} tasks" in text
    assert "down to depth 4 (this goal is at depth 0)" in text
    assert '"audience": "new engineers"' in text
    assert '"max_depth"' not in text.split("Context from the caller")[1]


async def test_a_model_that_never_repairs_fails_with_every_attempt() -> None:
    bad = good_plan()
    bad["tasks"][0]["handler"] = "web_search"
    with ScriptedOpenAIServer([json.dumps(bad)] * 3) as server:
        with pytest.raises(DecompositionFailed, match="in 3 attempts") as info:
            await decomposer(server).decompose(GOAL, {"catalogue": catalogue()})
    assert len(server.requests) == 3  # max_repairs=2: the first answer and two repairs
    assert [len(a["errors"]) for a in info.value.attempts] == [1, 1, 1]
    assert "'web_search' is not in the catalogue" in str(info.value)
    assert isinstance(info.value, NoDecomposition)
