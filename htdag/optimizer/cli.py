"""``htdag optimizer ...``: what the optimizer decided and why, the recorded
handler statistics it learns from, concurrency limits, tuning and pruning."""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from typing import Any

from ..core.engine import AsyncEngine
from ..core.errors import InvalidInput
from .decisions import LEVELS


def add_parser(sub: Any, parse_duration: Any) -> None:
    o = sub.add_parser("optimizer", help="learned options: explain, stats, limits, tune, prune")
    osub = o.add_subparsers(dest="optimizer_command", required=True)
    e = osub.add_parser("explain", help="each decision with its evidence, for a goal (planned, "
                                        "not run), a run id or a flow hash")
    e.add_argument("target", help="a goal in words, a run id or a flow hash")
    e.add_argument("modules", nargs="*", help="modules or files with more handlers")
    e.add_argument("--level", choices=LEVELS, default="advanced")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--brief", action="store_true", help="without the evidence lines")
    s = osub.add_parser("stats", help="per handler: attempts by outcome, durations, errors")
    s.add_argument("--since", type=parse_duration, help="only this recent: 90s, 15m, 12h, 7d")
    s.add_argument("--json", action="store_true", help="print JSON")
    limit = osub.add_parser("limit", help="show or set a concurrency key's limit")
    limit.add_argument("key", nargs="?")
    limit.add_argument("max_running", nargs="?",
                       help="a whole number >= 1, or 'none' to remove the limit")
    t = osub.add_parser("tune", help="re-learn the concurrency limits from recorded attempts")
    t.add_argument("--every", type=parse_duration,
                   help="keep tuning at this interval (until interrupted)")
    t.add_argument("--key", action="append", help="only this key; repeatable")
    p = osub.add_parser("prune", help="delete recorded attempts older than the retention")
    p.add_argument("--older-than", type=parse_duration,
                   help="age (default: the attempt_retention_days setting, 30 days)")


async def run(args: argparse.Namespace) -> None:
    async with await AsyncEngine.connect(args.url) as engine:
        command = args.optimizer_command
        if command == "explain":
            await _explain(engine, args)
        elif command == "stats":
            await _stats(engine, args)
        elif command == "limit":
            await _limit(engine, args)
        elif command == "tune":
            await _tune(engine, args)
        else:
            deleted = await engine.prune_attempts(args.older_than)
            print(f"deleted {deleted} attempts")


async def _explain(engine: AsyncEngine, args: argparse.Namespace) -> None:
    from .policy import Optimizer

    optimizer = Optimizer(engine, level=args.level)
    target: Any = args.target
    if not _is_run_id(target) and not await _is_flow(engine, target):
        target = await _plan(engine, args)
    explanation = await optimizer.aexplain(target)
    if args.json:
        print(json.dumps(explanation.to_json(), indent=2, default=str))
    else:
        print(explanation.text(evidence=not args.brief))


async def _plan(engine: AsyncEngine, args: argparse.Namespace) -> Any:
    """The goal's graph, as `htdag run` would plan it (nothing is run)."""
    from ..cli import load_handlers
    from ..examples import example_handlers
    from ..handlers import default_registry
    from ..planner import Planner

    handlers = example_handlers.merged(default_registry)
    if args.modules:
        handlers = handlers.merged(load_handlers(args.modules))
    graph, _ = await Planner(handlers=handlers, engine=engine).adecompose(args.target)
    return graph


def _is_run_id(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def _is_flow(engine: AsyncEngine, text: str) -> bool:
    found = await engine.store.flow_by_name(text)
    return found is not None and found["flow_hash"] == text


async def _stats(engine: AsyncEngine, args: argparse.Namespace) -> None:
    from datetime import UTC, datetime, timedelta

    since = None if args.since is None else datetime.now(UTC) - timedelta(seconds=args.since)
    stats = await engine.handler_stats(since)
    if args.json:
        print(json.dumps([s.model_dump() for s in stats], indent=2))
        return
    if not stats:
        print("no recorded attempts" + (" in that time" if since else ""))
        return
    print(f"{'handler':<28} {'attempts':>8} {'ok':>7} {'error':>6} {'timeout':>7} {'lost':>5}"
          f" {'p50':>9} {'p99':>9}  frequent errors")
    for s in stats:
        errors = ", ".join(f"{fp} x{n}" for fp, n in list(s.failures.items())[:2])
        print(f"{s.handler[:28]:<28} {s.attempts:>8} {s.ok:>7} {s.errors:>6} {s.timeouts:>7}"
              f" {s.lost:>5} {_secs(s.p50):>9} {_secs(s.p99):>9}  {errors[:60]}")


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}s"


async def _limit(engine: AsyncEngine, args: argparse.Namespace) -> None:
    if args.key is None:
        limits = await engine.concurrency_limits()
        for key, max_running in limits.items():
            print(f"{key}  {max_running}")
        if not limits:
            print("no concurrency limits")
        return
    if args.max_running is None:
        print((await engine.concurrency_limits()).get(args.key, "none"))
        return
    value = None if args.max_running.lower() == "none" else _whole(args.max_running)
    previous = await engine.set_concurrency_limit(args.key, value)
    print(f"{args.key}: {previous or 'none'} -> {value or 'none'}")


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a limit: give a whole number >= 1, or none") \
            from None


async def _tune(engine: AsyncEngine, args: argparse.Namespace) -> None:
    from .policy import Optimizer

    optimizer = Optimizer(engine, level="advanced")
    while True:
        for d in await optimizer.atune(keys=args.key):
            print(f"{d.concurrency_key}: {'set ' if d.applied else 'kept'} {d.value}: {d.reason}",
                  flush=True)
        if not args.every:
            return
        await asyncio.sleep(args.every)
