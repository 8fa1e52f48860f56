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
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool

from .core._loop import run as run_loop
from .core.definitions import Flow, HandlerFn
from .core.engine import AsyncEngine
from .core.errors import (
    DatabaseError,
    EmbeddedServerError,
    EventLoopStopped,
    HtdagError,
    RunCancelled,
    RunFailed,
    WaitTimeout,
)
from .core.status import RunStatus
from .errors import LLMProviderError, SinkError


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
    from .commands import show_until_done
    from .demo import demo_flow
    from .progress import fit
    from .terminal import terminal_columns

    started = time.perf_counter()
    columns = terminal_columns()
    engine = await AsyncEngine.connect(args.url)
    print(fit(f"database: {_where(engine.url)} "
              f"(ready in {time.perf_counter() - started:.2f}s)", columns))
    worker = engine.worker([demo_flow], concurrency=args.concurrency)
    worker_task = asyncio.create_task(worker.run())
    try:
        run = await engine.start(demo_flow, {"documents": args.documents})
        print(fit(f"run {run.run_id}: flow {demo_flow.name!r} over {args.documents} documents",
                  columns))
        output = await show_until_done(engine, run.run_id, 120, columns)
        print("result:", json.dumps(output, indent=2))
        print(f"done in {time.perf_counter() - started:.2f}s")
    finally:
        worker.stop()
        await worker_task
        await engine.close()


async def _run_goal(args: argparse.Namespace) -> int:
    from .commands import run_goal
    from .decomposers.hybrid import default_decomposer
    from .examples import example_handlers
    from .handlers import default_registry
    from .planner import Planner
    from .progress import fit
    from .terminal import terminal_columns

    handlers = example_handlers.merged(default_registry)
    if args.modules:
        handlers = handlers.merged(load_handlers(args.modules))
    decomposer = _llm_decomposer(args)
    async with await AsyncEngine.connect(args.url) as engine:
        print(fit(f"database: {_where(engine.url)}", terminal_columns()), flush=True)
        planner = Planner(default_decomposer(decomposer), handlers=handlers, engine=engine)
        return await run_goal(engine, args, planner)


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


def _view(name: str) -> Callable[[argparse.Namespace], Coroutine[Any, Any, int]]:
    """A command of htdag.commands, on an engine connected to ``--url``."""

    async def command(args: argparse.Namespace) -> int:
        from . import commands

        async with await AsyncEngine.connect(args.url) as engine:
            return int(await getattr(commands, name)(engine, args))

    return command


async def _cancel(args: argparse.Namespace) -> None:
    async with await AsyncEngine.connect(args.url) as engine:
        print((await engine.cancel(args.run_id)).value)


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


async def _graph(args: argparse.Namespace) -> None:
    from .pictures.cli import run_graph

    await run_graph(args)


async def _timeline(args: argparse.Namespace) -> None:
    from .pictures.cli import run_timeline

    await run_timeline(args)


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

    r = sub.add_parser("runs", help="list runs, newest first: goal or flow, status, "
                       "started, duration, run id")
    r.add_argument("--status", choices=[s.value for s in RunStatus])
    r.add_argument("--goal", metavar="TEXT", help="runs whose goal (or flow name) contains TEXT")
    r.add_argument("--flow", help="runs of the flow with this name")
    r.add_argument("--limit", type=_positive, default=20)
    r.add_argument("--all", action="store_true", help="child runs (subgoals) too")
    r.add_argument("--json", action="store_true", help="one JSON array, for scripts")

    s = sub.add_parser("status", help="show a run tree's steps, errors and output "
                       "(exit code 1 if it failed or was cancelled)")
    s.add_argument("run_id")
    s.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    c = sub.add_parser("cancel", help="cancel a run and its child runs")
    c.add_argument("run_id")

    e = sub.add_parser("events", help="print recent events, or follow them live")
    e.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    e.add_argument("--run", help="only this run and its child runs")
    e.add_argument("--kind", action="append",
                   help="a kind (task.failed) or category (task); repeatable")
    e.add_argument("--since", type=int, help="start after this event id (0: from the start)")
    e.add_argument("--limit", type=int, default=20, help="recent events shown first")
    e.add_argument("--json", action="store_true", help="one JSON object per line, for scripts")

    wk = sub.add_parser("workers", help="list running workers and their heartbeats")
    wk.add_argument("--all", action="store_true", help="stopped and lost workers too")
    wk.add_argument("--json", action="store_true", help="one JSON array, for scripts")

    p = sub.add_parser("prune-events", help="delete old events")
    p.add_argument("--older-than", type=parse_duration, required=True,
                   help="age: seconds, or 15m, 12h, 7d")

    from .optimizer.cli import add_parser as add_optimizer_parser
    from .pictures.cli import add_parsers as add_picture_parsers

    add_optimizer_parser(sub, parse_duration)
    add_picture_parsers(sub)

    db = sub.add_parser("db", help="the embedded PostgreSQL")
    db.add_argument("action", choices=["start", "stop", "status", "url"])
    return parser


# Exit codes (README.md's table): what a script can tell apart.
EXIT_OK, EXIT_RUN_NOT_COMPLETED, EXIT_BAD_INPUT, EXIT_TIMEOUT, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
# htdag could not do its part (database, embedded server, model provider): not the input.
_UNAVAILABLE: tuple[type[BaseException], ...] = (DatabaseError, EmbeddedServerError,
                                                 EventLoopStopped, LLMProviderError, SinkError)


def exit_code(exc: BaseException) -> int:
    """The one mapping of errors to exit codes."""
    if isinstance(exc, RunFailed | RunCancelled):
        return EXIT_RUN_NOT_COMPLETED
    if isinstance(exc, WaitTimeout):
        return EXIT_TIMEOUT
    if isinstance(exc, (*_UNAVAILABLE, psycopg.Error, psycopg_pool.PoolTimeout)):
        return EXIT_UNAVAILABLE
    return EXIT_BAD_INPUT  # every other HtdagError, and files that cannot be read or written


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: 2 for bad arguments, 0 for --help
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    commands: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int | None]]] = {
        "worker": _worker, "demo": _demo, "run": _run_goal, "runs": _view("runs"),
        "status": _view("status"), "cancel": _cancel, "events": _view("events"),
        "workers": _view("workers"), "prune-events": _prune, "optimizer": _optimizer,
        "graph": _graph, "timeline": _timeline}
    try:
        if args.command == "db":
            _db(args)
            return EXIT_OK
        return run_loop(commands[args.command](args)) or EXIT_OK
    except KeyboardInterrupt:
        print("htdag: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader left (`htdag runs | head -1`): nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (HtdagError, OSError, psycopg.Error, psycopg_pool.PoolTimeout) as exc:
        print(f"htdag: {exc}", file=sys.stderr)
        return exit_code(exc)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


if __name__ == "__main__":
    sys.exit(main())
