"""The ``htdag`` command: workers, the embedded database, runs, and the demo."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .core._loop import run as run_loop
from .core.definitions import Flow, HandlerFn
from .core.engine import AsyncEngine
from .core.errors import HtdagError
from .core.status import RunStatus


def load_modules(targets: Sequence[str]) -> tuple[dict[str, HandlerFn], Any]:
    """Handlers from modules (``pkg.mod``) or files (``path/x.py``): the steps of
    every Flow they define, a ``HANDLERS`` mapping if they have one, and the
    worker handlers of a ``PLANNER`` (an htdag.Planner), which then also plans the
    subgoals their tasks submit. Returns the handlers and that planner (or None)."""
    from .planner import Planner

    found: dict[str, HandlerFn] = {}
    planner: Planner | None = None
    for target in targets:
        if target.endswith(".py") or "/" in target:
            path = Path(target).resolve()
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise HtdagError(f"cannot import {target}: not a Python file")
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            spec.loader.exec_module(module)
        else:
            sys.path.insert(0, str(Path.cwd()))
            module = importlib.import_module(target)
        for value in vars(module).values():
            if isinstance(value, Flow):
                found.update(value.handlers)
        found.update(getattr(module, "HANDLERS", {}))
        if isinstance(getattr(module, "PLANNER", None), Planner):
            planner = module.PLANNER
            found.update(planner.worker_handlers())
    if not found:
        raise HtdagError(f"no handlers in {list(targets)}: define Flow objects with steps, "
                         "a HANDLERS dict or a PLANNER")
    return found, planner


def load_handlers(targets: Sequence[str]) -> dict[str, HandlerFn]:
    """The handlers of :func:`load_modules`."""
    return load_modules(targets)[0]


async def _worker(args: argparse.Namespace) -> None:
    handlers, planner = load_modules(args.modules)
    engine = await AsyncEngine.connect(args.url)
    worker = engine.worker(handlers, concurrency=args.concurrency, lease_seconds=args.lease,
                           poll_interval=args.poll_interval,
                           shutdown_timeout=args.shutdown_timeout, subgoals=planner,
                           max_depth=planner.max_depth if planner else 10)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    print(f"htdag worker {worker.worker_id}: {len(handlers)} handlers, "
          f"{args.concurrency} slots", flush=True)
    try:
        await worker.run()
    finally:
        await engine.close()
    print(f"htdag worker {worker.worker_id} stopped: {worker.tasks_completed} completed, "
          f"{worker.tasks_failed} failed", flush=True)


async def _demo(args: argparse.Namespace) -> None:
    from .demo import demo_flow
    from .progress import ProgressPrinter, follow_run

    started = time.perf_counter()
    engine = await AsyncEngine.connect(args.url)
    print(f"database: {_where(engine.url)} (ready in {time.perf_counter() - started:.2f}s)")
    worker = engine.worker([demo_flow], concurrency=args.concurrency)
    worker_task = asyncio.create_task(worker.run())
    try:
        run = await engine.start(demo_flow, {"documents": args.documents})
        print(f"run {run.run_id}: flow {demo_flow.name!r} over {args.documents} documents")
        await follow_run(engine, run.run_id, ProgressPrinter())
        output = await run.wait(timeout=120)
        print("result:", json.dumps(output, indent=2))
        print(f"done in {time.perf_counter() - started:.2f}s")
    finally:
        worker.stop()
        await worker_task
        await engine.close()


async def _run_goal(args: argparse.Namespace) -> None:
    from .decomposers.hybrid import default_decomposer
    from .examples import example_handlers
    from .handlers import default_registry
    from .planner import Planner
    from .progress import ProgressPrinter, follow_run, run_tree, summarize_output, timeline

    handlers = example_handlers.merged(default_registry)
    if args.modules:
        handlers = handlers.merged(load_handlers(args.modules))
    decomposer = _llm_decomposer(args)
    started = time.perf_counter()
    engine = await AsyncEngine.connect(args.url)
    try:
        print(f"database: {_where(engine.url)}")
        planner = Planner(default_decomposer(decomposer), handlers=handlers, engine=engine)
        result = await planner.acompose(args.goal, wait=False, optimize=args.optimize)
        await follow_run(engine, result.run_id, ProgressPrinter())
        try:
            output = await engine.wait(result.run_id, timeout=args.timeout)
        finally:
            if args.timeline:
                print("\ntimeline:")
                print(timeline(await run_tree(engine, result.run_id)))
        print("\nresult:", summarize_output(output))
        print(f"done in {time.perf_counter() - started:.2f}s (run {result.run_id})")
    finally:
        await engine.close()


def _llm_decomposer(args: argparse.Namespace) -> Any:
    """With --model (or --api-base), an LLMDecomposer, checked before anything
    runs; the llm tasks of its plans use the same model and server, unless
    HTDAG_LLM_SIMPLE / _MEDIUM / _COMPLEX say otherwise. Else None (rules)."""
    if not (args.model or args.api_base):
        return None
    from .decomposers import LLMDecomposer
    from .llm import configure_llm

    decomposer = LLMDecomposer(args.model, api_base=args.api_base)
    decomposer.check()
    models: dict[str, Any] = {level: decomposer.model for level in ("simple", "medium", "complex")
                              if not os.environ.get(f"HTDAG_LLM_{level.upper()}")}
    extra: dict[str, Any] = {}
    if decomposer.api_base:
        extra["api_base"] = decomposer.api_base
        if decomposer.provider == "openai" and not os.environ.get("OPENAI_API_KEY"):
            extra["api_key"] = "not-needed"  # a local OpenAI-compatible server
    configure_llm(**models, **extra)
    return decomposer


def _where(url: str) -> str:
    from .core.db import redact

    return redact(url)


async def _runs(args: argparse.Namespace) -> None:
    async with await AsyncEngine.connect(args.url) as engine:
        for run in await engine.list_runs(status=args.status, flow=args.flow, limit=args.limit):
            print(f"{run.run_id}  {run.status.value:<9}  {run.started_at:%Y-%m-%d %H:%M:%S}  "
                  f"{run.flow_hash}")


async def _status(args: argparse.Namespace) -> None:
    from .progress import step_summary

    async with await AsyncEngine.connect(args.url) as engine:
        details = await engine.status(args.run_id)
        print(step_summary(details))
        if details.run.error:
            print("error:", json.dumps(details.run.error))
        if details.run.output is not None:
            print("output:", json.dumps(details.run.output))


async def _cancel(args: argparse.Namespace) -> None:
    async with await AsyncEngine.connect(args.url) as engine:
        print((await engine.cancel(args.run_id)).value)


async def _events(args: argparse.Namespace) -> None:
    from .notifications import aget_recent_events, alisten
    from .notifications.stream import stable_tail

    async with await AsyncEngine.connect(args.url) as engine:
        if args.follow:
            since = args.since
            if since is None and args.limit:
                # The tail of the stream in stream order: resuming after its last event
                # cannot skip one that a slower transaction commits later.
                recent = await stable_tail(engine, args.run, args.kind, args.limit)
                for event in recent:
                    print(event, flush=True)
                since = recent[-1].id if recent else None
            async for event in alisten(engine, args.run, args.kind, since):
                print(event, flush=True)
        else:
            for event in await aget_recent_events(engine, args.run, limit=args.limit or 50,
                                                  since_id=args.since, kinds=args.kind):
                print(event)


def parse_duration(text: str) -> float:
    """'90', '90s', '15m', '12h', '7d' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1:] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: use seconds or a number with s, m, h or d") from None


async def _prune(args: argparse.Namespace) -> None:
    from .notifications import aprune_events

    async with await AsyncEngine.connect(args.url) as engine:
        print(f"deleted {await aprune_events(engine, args.older_than)} events")


async def _optimizer(args: argparse.Namespace) -> None:
    from .optimizer.cli import run

    await run(args)


def _db(args: argparse.Namespace) -> None:
    from .core import embedded

    if args.action == "start":
        print(embedded.ensure_server())
    elif args.action == "stop":
        print("stopped" if embedded.stop_server() else "not running")
    elif args.action == "url":
        print(embedded.ensure_server())
    else:
        print(json.dumps(embedded.server_status(), default=str, indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="htdag", description=__doc__)
    parser.add_argument("--url", help="database URL (default: HTDAG_DATABASE_URL, "
                        "DATABASE_URL, else the embedded PostgreSQL)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    w = sub.add_parser("worker", help="run a worker for the handlers of some modules")
    w.add_argument("modules", nargs="+", help="modules (pkg.mod) or files (path/x.py)")
    w.add_argument("-c", "--concurrency", type=int, default=10)
    w.add_argument("--lease", type=float, default=30.0, help="lease seconds")
    w.add_argument("--poll-interval", type=float, default=1.0)
    w.add_argument("--shutdown-timeout", type=float, default=30.0)

    d = sub.add_parser("demo", help="run the example fan-out flow and show its progress")
    d.add_argument("--documents", type=int, default=24)
    d.add_argument("-c", "--concurrency", type=int, default=8)

    g = sub.add_parser("run", help="plan a goal into a task graph, run it, show its progress")
    g.add_argument("goal", help='the goal in words, e.g. "compare postgres with redis"')
    g.add_argument("modules", nargs="*", help="modules or files with more handlers")
    g.add_argument("--timeout", type=float, default=300)
    g.add_argument("--no-timeline", dest="timeline", action="store_false")
    g.add_argument("--model", default=os.environ.get("HTDAG_LLM_MODEL"),
                   help="plan with this model (any litellm model: gpt-4o-mini, "
                        "anthropic/..., ollama/..., openai/<name> with --api-base; "
                        "default: HTDAG_LLM_MODEL, else the rules)")
    g.add_argument("--api-base", default=os.environ.get("HTDAG_LLM_API_BASE"),
                   help="an OpenAI-compatible server's URL (default: HTDAG_LLM_API_BASE)")
    g.add_argument("--optimize", choices=["basic", "advanced", "aggressive"],
                   help="apply options the optimizer learned from recorded runs")

    r = sub.add_parser("runs", help="list runs")
    r.add_argument("--status", choices=[s.value for s in RunStatus])
    r.add_argument("--flow")
    r.add_argument("--limit", type=int, default=20)

    s = sub.add_parser("status", help="show a run's steps and output")
    s.add_argument("run_id")
    c = sub.add_parser("cancel", help="cancel a run and its child runs")
    c.add_argument("run_id")

    e = sub.add_parser("events", help="print recent events, or follow them live")
    e.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    e.add_argument("--run", help="only this run and its child runs")
    e.add_argument("--kind", action="append",
                   help="a kind (task.failed) or category (task); repeatable")
    e.add_argument("--since", type=int, help="start after this event id (0: from the start)")
    e.add_argument("--limit", type=int, default=20, help="recent events shown first")

    p = sub.add_parser("prune-events", help="delete old events")
    p.add_argument("--older-than", type=parse_duration, required=True,
                   help="age: seconds, or 15m, 12h, 7d")

    from .optimizer.cli import add_parser as add_optimizer_parser

    add_optimizer_parser(sub, parse_duration)

    db = sub.add_parser("db", help="the embedded PostgreSQL")
    db.add_argument("action", choices=["start", "stop", "status", "url"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    commands = {"worker": _worker, "demo": _demo, "run": _run_goal, "runs": _runs,
                "status": _status, "cancel": _cancel, "events": _events, "prune-events": _prune,
                "optimizer": _optimizer}
    try:
        if args.command == "db":
            _db(args)
        else:
            run_loop(commands[args.command](args))
    except HtdagError as exc:
        print(f"htdag: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
