"""Example handlers that the default rule pack plans over (``htdag run``).
They stand in for real tools (a search API, an LLM call) and need no network."""

from __future__ import annotations

import asyncio
import hashlib
import random
from typing import Any

from .handlers import HandlerRegistry

example_handlers = HandlerRegistry()

_ANGLES = ["history", "design", "performance", "failure modes", "operations", "ecosystem",
           "costs", "alternatives"]


@example_handlers.handler("search", description="Find sources about a topic (simulated).")
async def search(topic: str, limit: int = 4) -> list[str]:
    await asyncio.sleep(random.uniform(0.02, 0.08))
    seed = int(hashlib.sha256(topic.encode()).hexdigest(), 16)
    angles = [_ANGLES[(seed >> (3 * i)) % len(_ANGLES)] for i in range(limit * 2)]
    unique = list(dict.fromkeys(angles))[:limit]
    return [f"{topic}: {angle}" for angle in unique]


@example_handlers.handler("summarize", description="Summarize one source (simulated LLM).")
async def summarize(item: str, topic: str) -> dict[str, Any]:
    await asyncio.sleep(random.uniform(0.05, 0.2))
    angle = item.split(": ", 1)[-1]
    summary = f"On the {angle} of {topic}: the key points, in brief."
    return {"source": item, "summary": summary, "words": len(summary.split())}


@example_handlers.handler("combine", description="Combine summaries into a report.")
def combine(parts: list[dict[str, Any]], topic: str) -> dict[str, Any]:
    return {"topic": topic, "sources": len(parts),
            "words": sum(int(p.get("words", 0)) for p in parts),
            "report": " ".join(p["summary"] for p in parts)}


@example_handlers.handler("compare", description="Compare two reports.")
def compare(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    richer = left if left["words"] >= right["words"] else right
    return {"compared": [left["topic"], right["topic"]],
            "sources": left["sources"] + right["sources"],
            "more_material": richer["topic"]}
