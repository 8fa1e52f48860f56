"""``htdag graph GOAL --svg FILE`` (the goal planned, not run, drawn) and
``htdag timeline RUN --svg FILE`` (a run tree's Gantt chart). htdag.cli adds
these parsers and calls :func:`run_graph` / :func:`run_timeline`; a path that
cannot be written raises PictureWriteError (an HtdagError: exit code 2)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..core.engine import AsyncEngine
from .picture import check_writable


def add_parsers(sub: Any) -> None:
    """Adds ``graph`` and ``timeline`` to the ``htdag`` command's subparsers."""
    g = sub.add_parser("graph", help="plan a goal (without running it) and draw its task "
                                     "graph as SVG")
    g.add_argument("goal", help='the goal in words, e.g. "compare postgres with redis"')
    g.add_argument("modules", nargs="*", help="modules or files with more handlers")
    g.add_argument("--svg", required=True, metavar="FILE", help="write the picture here")
    g.add_argument("--model", default=os.environ.get("HTDAG_LLM_MODEL"),
                   help="plan with this model, as `htdag run --model` (default: "
                        "HTDAG_LLM_MODEL, else the rules)")
    g.add_argument("--api-base", default=os.environ.get("HTDAG_LLM_API_BASE"),
                   help="an OpenAI-compatible server's URL (default: HTDAG_LLM_API_BASE)")
    g.add_argument("--max-nodes", type=int, default=60,
                   help="above this many tasks, draw one box per handler (default 60)")
    t = sub.add_parser("timeline", help="draw a run's timeline (its tasks and its child "
                                        "runs' tasks) as SVG")
    t.add_argument("run_id", metavar="RUN", help="the run id")
    t.add_argument("--svg", required=True, metavar="FILE", help="write the picture here")


async def run_graph(args: argparse.Namespace) -> None:
    """Plans ``args.goal`` as ``htdag run`` would, without running it, and writes
    the task graph's picture to ``args.svg``."""
    from ..cli import _llm_decomposer, load_handlers
    from ..decomposers.hybrid import default_decomposer
    from ..examples import example_handlers
    from ..handlers import default_registry
    from ..planner import Planner
    from .graphs import graph_picture

    target = check_writable(args.svg)
    handlers = example_handlers.merged(default_registry)
    if args.modules:
        handlers = handlers.merged(load_handlers(args.modules))
    decomposer = _llm_decomposer(args)
    async with await AsyncEngine.connect(args.url) as engine:
        planner = Planner(default_decomposer(decomposer), handlers=handlers, engine=engine)
        graph, _ = await planner.adecompose(args.goal)
    picture = graph_picture(graph, max_nodes=args.max_nodes)
    picture.save(target)
    print(f"wrote {target}: {picture.title} ({len(graph.tasks)} tasks)")


async def run_timeline(args: argparse.Namespace) -> None:
    """Writes the timeline of run ``args.run_id`` and its child runs to ``args.svg``."""
    from .timeline import atimeline

    target = check_writable(args.svg)
    async with await AsyncEngine.connect(args.url) as engine:
        picture = await atimeline(engine, args.run_id)
    picture.save(target)
    print(f"wrote {target}: {picture.title}")
