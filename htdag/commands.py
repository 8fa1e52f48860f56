"""The commands that show runs: ``htdag run``, ``runs``, ``status``, ``events`` and
``workers``. Each prints for people (a rich view in a terminal, plain text in a
pipe) or, with ``--json``, for scripts, and returns its exit code; htdag.cli
maps exceptions to exit codes in one place."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .cli import EXIT_OK as OK
from .cli import EXIT_RUN_NOT_COMPLETED as RUN_NOT_COMPLETED
from .core.engine import AsyncEngine, _run_uuid
from .core.errors import UnknownRunError, WaitTimeout
from .core.models import RunDetails, WorkerInfo
from .core.status import RunStatus
from .progress import (
    ProgressPrinter,
    RunTreeState,
    StepView,
    fit,
    follow_run,
    run_tree,
    summarize_output,
    timeline,
)
from .terminal import (
    MIN_TREE_COLUMNS,
    duration_text,
    follow_live,
    make_console,
    plain_tree,
    print_table,
    rich_terminal,
    terminal_columns,
)

OUTPUT_PREVIEW = 300  # characters of a run's output that `htdag status` shows


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def run_row(row: dict[str, Any]) -> dict[str, Any]:
    """A run of a listing as scripts read it (``htdag runs --json``): stable keys;
    ``duration_seconds`` is null while it runs."""
    return {"run_id": str(row["run_id"]), "goal": row["goal"], "flow": row["flow_name"],
            "status": str(row["status"]), "started_at": _iso(row["started_at"]),
            "finished_at": _iso(row["finished_at"]),
            "duration_seconds": _seconds(row["started_at"], row["finished_at"]),
            "parent_run_id": None if row["parent_run_id"] is None else str(row["parent_run_id"]),
            "root_run_id": str(row["root_run_id"]), "depth": row["depth"],
            "error_code": row["error_code"]}


async def runs(engine: AsyncEngine, args: argparse.Namespace) -> int:
    """``htdag runs``: a table (started in local time) or, with --json, an array."""
    rows = await engine.store.run_listing(
        RunStatus(args.status).value if args.status else None, args.goal, args.flow,
        not args.all, args.limit)
    listed = [run_row(r) for r in rows]
    if args.json:
        print(json.dumps(listed, indent=2))
        return OK
    table = [_run_line(r, row["started_at"]) for r, row in zip(listed, rows, strict=True)]
    print_table(["status", "took", "started", "run id", "goal or flow"], table,
                second_line=(3, 2))
    return OK


def _run_line(run: dict[str, Any], started: datetime) -> list[str]:
    """A run's row of the table: how long it took, or has run so far."""
    took = run["duration_seconds"]
    if run["finished_at"] is None:
        took = (datetime.now(UTC) - started).total_seconds()
    return [run["status"], duration_text(took), f"{started.astimezone():%Y-%m-%d %H:%M:%S}",
            run["run_id"], run["goal"] or run["flow"]]


async def _tree_state(engine: AsyncEngine, run_id: uuid.UUID | str
                      ) -> tuple[RunTreeState, list[RunDetails]]:
    rid = _run_uuid(run_id)  # a clear error for a malformed id
    if await engine.store.get_run(rid) is None:
        raise UnknownRunError(f"no run has id {rid}: list runs with `htdag runs --all`")
    trees = await run_tree(engine, rid)
    root = trees[0].run.run_id
    names = await engine.store.run_listing(None, None, None, False, len(trees) + 1, root)
    flow_names = {r["run_id"]: str(r["flow_name"]) for r in names}
    return RunTreeState.from_details(trees, flow_names), trees


def status_json(state: RunTreeState, trees: list[RunDetails]) -> dict[str, Any]:
    """A run tree as scripts read it (``htdag status --json``): the root run with
    its steps, each step with the child runs its tasks submitted (``runs``)."""
    rows = {d.run.run_id: d.run for d in trees}

    def run_json(run_id: uuid.UUID) -> dict[str, Any]:
        view, row = state.runs[run_id], rows[run_id]
        steps = [_step_json(state, run_id, s, run_json) for s in view.steps.values()]
        unplaced = [run_json(c.run_id) for c in state.children(run_id, None)]
        return {"run_id": str(run_id), "goal": view.goal, "flow": view.flow_name,
                "status": view.status, "started_at": _iso(view.started_at),
                "finished_at": _iso(view.finished_at),
                "duration_seconds": _seconds(view.started_at, view.finished_at),
                "error": row.error, "error_code": row.error_code, "output": row.output,
                "steps": steps, "runs": unplaced}

    return run_json(state.root)


def _step_json(state: RunTreeState, run_id: uuid.UUID, step: StepView,
               run_json: Callable[[uuid.UUID], dict[str, Any]]) -> dict[str, Any]:
    return {"name": step.name, "status": step.status, "tasks_done": step.done,
            "tasks_total": step.total, "tasks_failed": step.failed, "retries": step.retries,
            "error": step.error, "started_at": _iso(step.started_at),
            "finished_at": _iso(step.finished_at),
            "runs": [run_json(c.run_id) for c in state.children(run_id, step.name)]}


def _exit_for(status: str) -> int:
    """``htdag status`` and ``htdag run``: 1 for a run that failed or was cancelled."""
    return RUN_NOT_COMPLETED if status in ("failed", "cancelled") else OK


async def status(engine: AsyncEngine, args: argparse.Namespace) -> int:
    """``htdag status RUN``: the tree (rich in a terminal, indented text elsewhere),
    the error and the output cut short; or, with --json, all of it nested."""
    state, trees = await _tree_state(engine, args.run_id)
    root = trees[0].run
    if args.json:
        print(json.dumps(status_json(state, trees), indent=2, default=str))
        return _exit_for(root.status.value)
    columns = terminal_columns()
    if rich_terminal() and (columns or 80) >= MIN_TREE_COLUMNS:
        from .terminal import render_tree

        console = make_console()
        console.print(render_tree(state))
    else:
        print("\n".join(plain_tree(state, columns)))
    if root.error:
        print("error:", json.dumps(root.error, default=str))
    if root.output is not None:
        print(fit("output: " + summarize_output(root.output, OUTPUT_PREVIEW), columns))
    return _exit_for(root.status.value)


def event_lines(json_lines: bool) -> Callable[[Any], None]:
    """Prints an event: its text line, or one JSON object per line."""
    if json_lines:
        return lambda event: print(json.dumps(event.to_json(), default=str), flush=True)
    return lambda event: print(event, flush=True)


async def events(engine: AsyncEngine, args: argparse.Namespace) -> int:
    """``htdag events``: recent events (or, with --follow, live ones) as lines."""
    from .notifications import aget_recent_events, alisten
    from .notifications.stream import stable_tail

    show = event_lines(args.json)
    if args.run is not None:
        _run_uuid(args.run)  # a clear error for a malformed id
    if not args.follow:
        for event in await aget_recent_events(engine, args.run, limit=args.limit or 50,
                                              since_id=args.since, kinds=args.kind):
            show(event)
        return OK
    since = args.since
    if since is None and args.limit:
        # The tail of the stream in stream order: resuming after its last event
        # cannot skip one that a slower transaction commits later.
        recent = await stable_tail(engine, args.run, args.kind, args.limit)
        for event in recent:
            show(event)
        since = recent[-1].id if recent else None
    async for event in alisten(engine, args.run, args.kind, since):
        show(event)
    return OK


def worker_row(worker: WorkerInfo) -> dict[str, Any]:
    """A worker as scripts read it (``htdag workers --json``)."""
    state = "lost" if worker.lost_at else "stopped" if worker.stopped_at else "running"
    return {"worker_id": str(worker.worker_id), "state": state, "hostname": worker.hostname,
            "pid": worker.pid, "concurrency": worker.concurrency,
            "handlers": sorted(worker.handlers), "started_at": _iso(worker.started_at),
            "last_heartbeat_at": _iso(worker.last_heartbeat_at),
            "stopped_at": _iso(worker.stopped_at), "lost_at": _iso(worker.lost_at)}


async def workers(engine: AsyncEngine, args: argparse.Namespace) -> int:
    """``htdag workers``: running workers (all with --all), a table or a JSON array."""
    listed = [worker_row(w) for w in await engine.list_workers()]
    if not args.all:
        listed = [w for w in listed if w["state"] == "running"]
    if args.json:
        print(json.dumps(listed, indent=2))
        return OK
    print_table(["state", "slots", "handlers", "heartbeat", "worker id", "host", "pid"],
                [[w["state"], str(w["concurrency"]), str(len(w["handlers"])),
                  str(w["last_heartbeat_at"])[:19].replace("T", " "), w["worker_id"],
                  w["hostname"], str(w["pid"])] for w in listed],
                second_line=(4, 5, 6))
    return OK


async def run_goal(engine: AsyncEngine, args: argparse.Namespace, planner: Any) -> int:
    """Plans and starts the goal, shows its progress (a live tree in a terminal,
    lines elsewhere), then the timeline and the result. Exit code 1 if the run
    failed or was cancelled; WaitTimeout goes on to main (3)."""
    started = time.perf_counter()
    result = await planner.acompose(args.goal, wait=False, optimize=args.optimize)
    columns = terminal_columns()
    try:
        output = await show_until_done(engine, result.run_id, args.timeout, columns)
    except asyncio.CancelledError:
        print(f"htdag: interrupted; run {result.run_id} is left running: serve it with "
              f"`htdag worker`, or stop it with `htdag cancel {result.run_id}`",
              file=sys.stderr)
        raise
    finally:
        task = asyncio.current_task()
        if args.timeline and not (task and task.cancelling()):
            await _print_timeline(engine, result.run_id, columns)
    _print_result(output, result.run_id, columns)
    done = f"done in {time.perf_counter() - started:.2f}s"
    if columns is not None and len(done) + 43 > columns:  # " (run <uuid>)" would wrap
        print(f"{done}\nrun {result.run_id}")
    else:
        print(f"{done} (run {result.run_id})")
    return OK


async def show_until_done(engine: AsyncEngine, run_id: uuid.UUID, timeout: float,
                           columns: int | None) -> Any:
    """Shows the run's progress until it finishes or ``timeout`` runs out
    (WaitTimeout); returns its output, or raises RunFailed or RunCancelled."""
    live = rich_terminal() and (columns or 80) >= MIN_TREE_COLUMNS
    try:
        async with asyncio.timeout(timeout):
            if live:
                await follow_live(engine, run_id, make_console())
            else:
                await follow_run(engine, run_id, ProgressPrinter(width=columns))
    except TimeoutError:
        raise WaitTimeout(f"run {run_id} did not finish within {timeout:g}s; it goes on "
                          f"running: follow it with `htdag events -f --run {run_id}`, or "
                          f"`htdag cancel {run_id}`") from None
    return await engine.wait(run_id, timeout=timeout)


def _print_result(output: Any, run_id: uuid.UUID, columns: int | None) -> None:
    """The output as indented JSON; in a terminal, lines cut to its width."""
    lines = f"\nresult: {summarize_output(output)}".splitlines()
    fitted = [fit(line, columns) for line in lines]
    print("\n".join(fitted))
    if fitted != lines:
        print(fit(f"(lines cut to fit; all of it: htdag status {run_id} --json)", columns))


async def _print_timeline(engine: AsyncEngine, run_id: uuid.UUID, columns: int | None) -> None:
    chart = timeline(await run_tree(engine, run_id), columns=columns)
    if chart:
        print("\ntimeline:")
        print(chart)

