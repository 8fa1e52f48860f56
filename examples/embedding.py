"""Reference workflow: a batch of texts embedded through a map step.

    python examples/embedding.py "first text" "second text" ...     # offline (a mock vector)
    python examples/embedding.py --api-base http://127.0.0.1:8000/v1 --batch-size 2 a b c

The flow ``example.embedding`` has three steps:

``batch``
    checks the texts (a non-empty list of non-empty strings; otherwise
    :class:`InvalidEmbeddingInput`, a NonRetryableError: one attempt) and cuts
    them into batches of ``batch_size`` (1: one text per task).
``embed``
    a map step: one task per batch, each calling ``litellm.aembedding``
    (``api_base`` configurable) on its own. A batch that fails for now (429,
    5xx, timeout) raises :class:`ProviderUnavailable` and only that task is
    retried with backoff; the other batches' vectors are kept. A request the
    provider refuses raises :class:`ProviderRefused` and fails the run at once.
``collect``
    a map step's outputs come back in the order of its input, whatever order
    the tasks finished in, so the vectors are concatenated in the order of the
    texts; with the tokens, the cost (USD, litellm's price map) and the
    latency of each batch summed up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import htdag
from htdag import Flow, NonRetryableError, TaskContext

if not __package__:  # loaded by its path (python examples/embedding.py): find examples/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from examples._litellm import ProviderRefused as ProviderRefused  # re-exported
from examples._litellm import (
    ProviderUnavailable,
    call_options,
    import_litellm,
    openai_client_without_retries,
    provider_error,
)

FLOW_NAME = "example.embedding"


class InvalidEmbeddingInput(NonRetryableError):
    """The texts cannot be embedded: pass a non-empty list of non-empty strings."""


@dataclass(frozen=True)
class EmbeddingSettings:
    """The embedding model (a litellm name), the provider's address, how many
    texts one task embeds, the longest text accepted, the timeout of one call,
    and litellm's ``mock_response`` for demos without a provider (one vector,
    given to every batch of one text)."""

    model: str = "openai/text-embedding-3-small"
    api_base: str | None = None
    api_key: str | None = None
    batch_size: int = 1
    max_text_chars: int = 32_000
    request_timeout: float = 60.0
    mock_response: list[float] | None = None


def cut_into_batches(texts: Any, batch_size: int, max_text_chars: int) -> list[dict[str, Any]]:
    """``[{"start": index of the first text, "texts": [...]}, ...]`` in order;
    InvalidEmbeddingInput naming the first bad text otherwise."""
    if not isinstance(texts, list) or not texts:
        raise InvalidEmbeddingInput(f"expected a non-empty list of texts, got "
                                    f"{type(texts).__name__}: pass [\"a text\", ...]")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise InvalidEmbeddingInput(f"text {i} is {text!r}: every text must be a "
                                        "non-empty string")
        if len(text) > max_text_chars:
            raise InvalidEmbeddingInput(f"text {i} has {len(text)} characters, over the limit "
                                        f"of {max_text_chars}: split it into chunks")
    return [{"start": i, "texts": texts[i:i + batch_size]}
            for i in range(0, len(texts), batch_size)]


async def embed_batch(settings: EmbeddingSettings, texts: list[str]) -> dict[str, Any]:
    """The vectors of ``texts`` in their order, with tokens, cost and latency."""
    litellm = import_litellm()
    kwargs = call_options(api_base=settings.api_base, api_key=settings.api_key,
                          mock_response=settings.mock_response,
                          timeout=settings.request_timeout)
    client = None if settings.mock_response is not None else openai_client_without_retries(
        settings.model, settings.api_base, settings.api_key, settings.request_timeout)
    if client is not None:
        kwargs["client"] = client
    started = time.perf_counter()
    try:
        response = await litellm.aembedding(model=settings.model, input=texts, **kwargs)
    except Exception as exc:  # every provider failure is classified
        raise provider_error(settings.model, exc) from exc
    finally:
        if client is not None:
            await client.close()
    latency_ms = (time.perf_counter() - started) * 1000
    items = sorted(response.data, key=lambda item: item["index"])  # the provider's order
    if len(items) != len(texts):
        raise ProviderUnavailable(f"{settings.model} returned {len(items)} vectors for "
                                  f"{len(texts)} texts; retrying the batch")
    usage = getattr(response, "usage", None)
    cost = (response._hidden_params or {}).get("response_cost")
    return {"vectors": [list(map(float, item["embedding"])) for item in items],
            "prompt_tokens": getattr(usage, "prompt_tokens", None) or 0,
            "cost_usd": float(cost) if cost is not None else None,
            "latency_ms": round(latency_ms, 3)}


def build_flow(settings: EmbeddingSettings, *, max_attempts: int = 5, base_delay: float = 1.0,
               max_delay: float = 30.0) -> Flow:
    """The flow batch -> embed (map) -> collect; start runs of it with the list
    of texts as input. The retry options apply to each ``embed`` task alone."""
    if settings.batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {settings.batch_size}")
    flow = Flow(FLOW_NAME, output="collect")

    @flow.step(max_attempts=max_attempts)
    def batch(inp: dict[str, Any]) -> list[dict[str, Any]]:
        return cut_into_batches(inp["run"], settings.batch_size, settings.max_text_chars)

    @flow.step(depends_on=["batch"], map=True, max_attempts=max_attempts, base_delay=base_delay,
               max_delay=max_delay, timeout=settings.request_timeout + 5)
    async def embed(element: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
        out = await embed_batch(settings, element["texts"])
        return {"start": element["start"], "attempt": ctx.attempt, **out}

    @flow.step(depends_on=["embed"])
    def collect(inp: dict[str, Any]) -> dict[str, Any]:
        batches = inp["embed"]
        costs = [b["cost_usd"] for b in batches]
        return {
            "model": settings.model,
            "vectors": [v for b in batches for v in b["vectors"]],
            "batches": len(batches),
            "attempts": [b["attempt"] for b in batches],
            "usage": {"prompt_tokens": sum(b["prompt_tokens"] for b in batches)},
            "cost_usd": None if None in costs else sum(costs),
            "latency_ms": {"sum": round(sum(b["latency_ms"] for b in batches), 3),
                           "max": max(b["latency_ms"] for b in batches)},
        }

    return flow


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("texts", nargs="+")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--model", default="openai/text-embedding-3-small")
    parser.add_argument("--api-base", help="an OpenAI-compatible server; none: mock vectors")
    args = parser.parse_args(argv)
    settings = EmbeddingSettings(  # litellm's mock answers one vector: batches of one text
        model=args.model, api_base=args.api_base,
        batch_size=args.batch_size if args.api_base else 1,
        api_key=os.environ.get("OPENAI_API_KEY", "not-needed"),
        mock_response=None if args.api_base else [0.5, 0.25, 0.125, 0.0625])
    flow = build_flow(settings)
    async with await htdag.aconnect() as engine:
        # A worker in this process until the engine closes.
        engine.start_local_worker(flow.name, engine.worker([flow], concurrency=8))
        run = await engine.start(flow, args.texts)
        return dict(await run.wait(timeout=300))


if __name__ == "__main__":
    result = asyncio.run(main())
    for i, vector in enumerate(result["vectors"]):
        print(i, [round(x, 4) for x in vector[:4]], "...")
    print(f"{result['batches']} batches, {result['usage']['prompt_tokens']} tokens, "
          f"cost ${result['cost_usd'] or 0:.8f}, latency {result['latency_ms']}")
