"""LangGraph beside htdag: a checkpointed chain and a ``Send`` fan-out of no-op nodes.

Runs with the peers' virtualenv (``make bench-peers`` builds it):

    .venv-peers/bin/python benchmarks/peers/langgraph_bench.py --url URL

``URL`` names any database on the server (usually ``postgres``); the benchmark
creates its own database ``langgraph_bench_<pid>``, sets up ``PostgresSaver``'s
tables there (``PostgresSaver.from_conn_string``, the documented way: one
connection) and drops the database at the end. Every invocation uses a new
thread id and ``durability="sync"``: each super-step's checkpoint is written
before the next step starts, as htdag commits a step before starting the next.
Prints ``name value unit`` lines on stdout, progress on stderr:

* ``langgraph_chain_step_ms``: wall time of ``invoke`` on a StateGraph that is a
  chain of 100 no-op nodes (each adds one to a counter), over 100; median of 7
  invocations after a warm-up (htdag's ``chain_step_overhead_ms``).
* ``langgraph_fanout_tasks_per_s``: one node's conditional edge returns 1,000
  ``Send("work", ...)``; ``work`` returns its item into a list with an
  ``operator.add`` reducer; 1,000 over the wall time of ``invoke``, median of 5
  invocations after a warm-up. LangGraph runs the tasks of a super-step on its
  thread pool (its default concurrency); htdag's figure is a 1,000-task map step
  on a worker with 10 slots.
"""

from __future__ import annotations

import argparse
import itertools
import operator
import os
import statistics
import sys
import time
import uuid
from typing import Annotated, Any, TypedDict

from _common import figure, fresh_database, note
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send

CHAIN_LENGTH = 100
CHAIN_REPEATS = 7
FANOUT_SIZE = 1_000
FANOUT_REPEATS = 5
# LangGraph stops a graph after 25 super-steps unless told otherwise.
RECURSION_LIMIT = 10 * CHAIN_LENGTH


# --- the chain -----------------------------------------------------------------------------


class ChainState(TypedDict):
    steps: int


def chain_step(state: ChainState) -> dict[str, int]:
    return {"steps": state["steps"] + 1}


def chain_graph(checkpointer: PostgresSaver) -> CompiledStateGraph[Any, Any, Any, Any]:
    builder = StateGraph(ChainState)
    names = [f"s{i:03d}" for i in range(CHAIN_LENGTH)]
    for name in names:
        builder.add_node(name, chain_step)
    builder.add_edge(START, names[0])
    for before, after in itertools.pairwise(names):
        builder.add_edge(before, after)
    builder.add_edge(names[-1], END)
    return builder.compile(checkpointer=checkpointer)


# --- the fan-out ---------------------------------------------------------------------------


class FanoutState(TypedDict):
    items: list[int]
    results: Annotated[list[int], operator.add]


class ItemState(TypedDict):
    item: int


def fan_out(state: FanoutState) -> list[Send]:
    return [Send("work", {"item": item}) for item in state["items"]]


def work(state: ItemState) -> dict[str, list[int]]:
    return {"results": [state["item"]]}


def fanout_graph(checkpointer: PostgresSaver) -> CompiledStateGraph[Any, Any, Any, Any]:
    builder = StateGraph(FanoutState)
    builder.add_node("work", work)
    builder.add_conditional_edges(START, fan_out, ["work"])
    builder.add_edge("work", END)
    return builder.compile(checkpointer=checkpointer)


# --- timing --------------------------------------------------------------------------------


def timed_invoke(graph: CompiledStateGraph[Any, Any, Any, Any], state: dict[str, Any]
                 ) -> tuple[float, dict[str, Any]]:
    config: Any = {"configurable": {"thread_id": str(uuid.uuid4())},
                   "recursion_limit": RECURSION_LIMIT}
    started = time.perf_counter()
    result = graph.invoke(state, config, durability="sync")
    return time.perf_counter() - started, result


def chain_seconds(graph: CompiledStateGraph[Any, Any, Any, Any]) -> float:
    seconds, result = timed_invoke(graph, {"steps": 0})
    if result["steps"] != CHAIN_LENGTH:
        raise RuntimeError(f"the chain ran {result['steps']} steps, not {CHAIN_LENGTH}")
    return seconds


def fanout_seconds(graph: CompiledStateGraph[Any, Any, Any, Any]) -> float:
    items = list(range(FANOUT_SIZE))
    seconds, result = timed_invoke(graph, {"items": items, "results": []})
    if sorted(result["results"]) != items:
        raise RuntimeError(f"the fan-out returned {len(result['results'])} results, "
                           f"not {FANOUT_SIZE}")
    return seconds


def bench(url: str) -> None:
    with PostgresSaver.from_conn_string(url) as checkpointer:
        checkpointer.setup()

        chain = chain_graph(checkpointer)
        chain_seconds(chain)  # warm-up
        chains = [chain_seconds(chain) for _ in range(CHAIN_REPEATS)]
        note(f"langgraph: chain of {CHAIN_LENGTH} nodes (durability sync): "
             f"{', '.join(f'{c:.3f}' for c in chains)} s")

        fanout = fanout_graph(checkpointer)
        fanout_seconds(fanout)  # warm-up
        fanouts = [fanout_seconds(fanout) for _ in range(FANOUT_REPEATS)]
        note(f"langgraph: fan-out of {FANOUT_SIZE} Send tasks (durability sync): "
             f"{', '.join(f'{s:.3f}' for s in fanouts)} s")

    figure("langgraph_chain_step_ms", statistics.median(chains) * 1000 / CHAIN_LENGTH, "ms")
    figure("langgraph_fanout_tasks", FANOUT_SIZE, "tasks")
    figure("langgraph_fanout_tasks_per_s", FANOUT_SIZE / statistics.median(fanouts), "tasks/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="any database on the server to use")
    args = parser.parse_args()
    started = time.perf_counter()
    with fresh_database(args.url, f"langgraph_bench_{os.getpid()}") as url:
        bench(url)
    note(f"langgraph benchmark took {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
