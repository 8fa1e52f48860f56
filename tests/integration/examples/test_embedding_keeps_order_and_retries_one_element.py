"""examples/embedding.py through litellm's real embedding request path to the
local OpenAI-compatible server: vectors in the order of the texts, one task
per batch, and a batch's transient failure retried in that batch alone."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from _openai_server import ScriptedOpenAIServer

from examples.embedding import EmbeddingSettings, build_flow
from htdag.core.engine import AsyncEngine
from htdag.errors import RunFailed

from .._support import Db, running_worker

TEXTS = [f"text number {i}" for i in range(7)]


async def embed(engine: AsyncEngine, server: ScriptedOpenAIServer, texts: Any,
                batch_size: int = 1) -> tuple[Any, dict[str, Any]]:
    settings = EmbeddingSettings(api_base=server.url, api_key="test", batch_size=batch_size)
    flow = build_flow(settings, base_delay=0.02, max_delay=0.05)
    async with running_worker(engine, [flow], concurrency=4):
        run = await engine.start(flow, texts)
        return run.run_id, await run.wait(timeout=30)


def texts_requested(server: ScriptedOpenAIServer) -> list[str]:
    return [t for r in server.requests for t in r.json["input"]]


@pytest.mark.parametrize("batch_size", [1, 3])
async def test_vectors_come_back_in_the_order_of_the_texts(
        engine: AsyncEngine, db: Db, batch_size: int) -> None:
    with ScriptedOpenAIServer() as server:
        run_id, out = await embed(engine, server, TEXTS, batch_size)
    assert out["vectors"] == [server.vector_of(t) for t in TEXTS]
    batches = -(-len(TEXTS) // batch_size)
    assert out["batches"] == len(server.requests) == batches
    assert sorted(texts_requested(server)) == sorted(TEXTS)
    assert all(r.json["model"] == "text-embedding-3-small" for r in server.requests)
    embed_tasks = [t for t in await db.tasks(run_id) if t["step_name"] == "embed"]
    assert len(embed_tasks) == batches  # one task per batch


async def test_tokens_cost_and_latency_are_summed_over_the_batches(engine: AsyncEngine) -> None:
    import litellm

    with ScriptedOpenAIServer() as server:
        _, out = await embed(engine, server, TEXTS, batch_size=2)
    tokens = sum(len(t.split()) for t in TEXTS)  # what the server counts
    assert out["usage"] == {"prompt_tokens": tokens}
    price = litellm.model_cost["text-embedding-3-small"]["input_cost_per_token"]
    assert out["cost_usd"] == pytest.approx(tokens * price)
    assert out["latency_ms"]["sum"] >= out["latency_ms"]["max"] > 0


async def test_a_failing_element_is_retried_alone(engine: AsyncEngine, db: Db) -> None:
    with ScriptedOpenAIServer(embedding_failures={TEXTS[3]: [500, 429]}) as server:
        run_id, out = await embed(engine, server, TEXTS)
    assert out["vectors"] == [server.vector_of(t) for t in TEXTS]
    assert out["attempts"] == [1, 1, 1, 3, 1, 1, 1]
    requested = Counter(texts_requested(server))
    assert requested == {t: 3 if t == TEXTS[3] else 1 for t in TEXTS}
    attempts = [a for a in await db.attempts(run_id) if a["step_name"] == "embed"]
    retried = Counter(a["task_id"] for a in attempts)
    assert sorted(retried.values()) == [1] * 6 + [3]
    failed = [a for a in attempts if a["outcome"] == "failed"]
    assert len(failed) == 2 and all("ProviderUnavailable" in a["error"] for a in failed)


@pytest.mark.parametrize(("texts", "message"), [
    ([], "expected a non-empty list"),
    (["fine", "  "], "text 1 is '  '"),
    ("not a list", "expected a non-empty list of texts, got str"),
])
async def test_bad_input_fails_at_once(engine: AsyncEngine, db: Db, texts: Any,
                                       message: str) -> None:
    with ScriptedOpenAIServer() as server:
        with pytest.raises(RunFailed, match=message) as info:
            await embed(engine, server, texts)
    assert server.requests == []
    attempts = await db.attempts(info.value.run_id)
    assert [(a["step_name"], a["outcome"]) for a in attempts] == [("batch", "failed")]


async def test_a_batch_the_provider_refuses_fails_the_run_at_once(engine: AsyncEngine) -> None:
    with ScriptedOpenAIServer(embedding_failures={TEXTS[2]: [400, 400]}) as server:
        with pytest.raises(RunFailed, match="refused the request") as info:
            await embed(engine, server, TEXTS[:3])
    assert (info.value.step, info.value.task_index) == ("embed", 2)
    assert Counter(texts_requested(server))[TEXTS[2]] == 1
