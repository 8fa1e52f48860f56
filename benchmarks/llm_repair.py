"""LLM repair benchmark: the scripted fault set (tests/_plan_faults.py) against
a local OpenAI-compatible server (tests/_openai_server.py), through litellm's
real request path; no provider is reached and no database is needed.

    .venv/bin/python benchmarks/llm_repair.py

``run_all.py`` calls :func:`bench`. Figures (``name value unit`` on stdout,
each fault on stderr):

* ``repair_faults``: faulty answers in the set (prose around the JSON, invalid
  and truncated JSON, an unknown handler, a wrong parameter type, a missing
  required parameter, a cycle, a dangling reference, a duplicate task id, too
  many tasks, an empty plan, a subgoal deeper than the limit), each followed by
  a correct answer.
* ``repair_success_rate``: the share of them that ended in a valid plan whose
  first attempt's errors name the fault (target 1.0).
* ``repair_attempts_mean``: model answers per decomposition (1: taken at once, as
  for text around the JSON; 2: repaired on the next attempt).
* ``repair_ms_mean``: time per decomposition, the local server's answers included.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _openai_server import ScriptedOpenAIServer
from _plan_faults import GOAL, GOOD, MAX_TASKS, Fault, catalogue, faults

from htdag.decomposers import DecompositionRecord, LLMDecomposer


async def repair(fault: Fault) -> tuple[bool, int, float]:
    """(repaired, attempts, ms) of one fault."""
    with ScriptedOpenAIServer([fault.answer, GOOD]) as server:
        decomposer = LLMDecomposer("openai/scripted", api_base=server.url, max_tasks=MAX_TASKS)
        context: dict[str, Any] = {"catalogue": catalogue(), **fault.context}
        started = time.perf_counter()
        try:
            graph = await decomposer.decompose(GOAL, context)
        except Exception:  # noqa: BLE001 - a failure is a figure here, not a crash
            graph = None
        took = (time.perf_counter() - started) * 1000
    record = context.get("decomposition")
    attempts = len(record.attempts) if isinstance(record, DecompositionRecord) else 0
    named = attempts == 1 or (isinstance(record, DecompositionRecord) and any(
        fault.expected in e for e in record.attempts[0]["errors"]))
    return graph is not None and named, attempts, took


def bench(figure: Callable[[str, float | int, str], None] | None = None,
          note: Callable[..., None] | None = None) -> None:
    import run_all  # the figure and note formats

    figure = figure or run_all.figure
    note = note or run_all.note
    asyncio.run(repair(Fault("warm-up", GOOD, "", attempts=1)))  # imports litellm, langgraph
    results = []
    for fault in faults():
        ok, attempts, took = asyncio.run(repair(fault))
        note(f"llm repair: {fault.name}: {'repaired' if ok else 'NOT repaired'} in "
             f"{attempts} attempts, {took:.0f} ms")
        results.append((ok, attempts, took))
    figure("repair_faults", len(results), "faults")
    figure("repair_success_rate", sum(ok for ok, _, _ in results) / len(results), "ratio")
    figure("repair_attempts_mean", statistics.mean(a for _, a, _ in results), "attempts")
    figure("repair_ms_mean", statistics.mean(t for _, _, t in results), "ms")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    bench()
