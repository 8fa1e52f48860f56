"""The example flow behind ``htdag demo``: fan out over documents, analyse each
in parallel, fan in to a summary."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from .core.definitions import Flow

demo_flow = Flow("demo.word_stats")

_TEXTS = [
    "durable workflows survive crashes", "postgres claims tasks with skip locked",
    "a lease expires when a worker dies", "map steps fan out over arrays",
    "retries back off exponentially with jitter", "notifications wake idle workers",
    "counters make readiness constant time", "one commit can complete many tasks",
    "agents submit subgoals as child runs", "the optimizer learns timeouts",
    "events stream through listen and notify", "a flow is stored once per hash",
]


@demo_flow.step()
def documents(inp: dict[str, Any]) -> list[str]:
    count = int(inp["run"].get("documents", 24))
    return [_TEXTS[i % len(_TEXTS)] + f" (#{i})" for i in range(count)]


@demo_flow.step(depends_on=["documents"], map=True, timeout=10, max_attempts=3,
                base_delay=0.05)
async def analyse(text: str) -> dict[str, Any]:
    await asyncio.sleep(random.uniform(0.05, 0.25))  # stands in for an LLM or API call
    words = text.split()
    return {"text": text, "words": len(words), "longest": max(words, key=len)}


@demo_flow.step(depends_on=["analyse"])
def summary(inp: dict[str, Any]) -> dict[str, Any]:
    results = inp["analyse"]
    longest = max((r["longest"] for r in results), key=len)
    return {"documents": len(results), "words": sum(r["words"] for r in results),
            "longest_word": longest}
