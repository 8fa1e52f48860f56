"""Restructuring: chains of very short tasks fused into one task.

Every task costs a hop (claimed, completed, its successor made ready) of a few
milliseconds whatever its handler does; for a chain of handlers that each take
well under that, the hops are most of the run. :func:`fuse_short_chains`
rewrites such a chain ``a -> b -> c`` into one task ``c`` that calls a, b and c
in order (engine handler ``htdag.fused``, :func:`fused_chain_handler`). The
fused task keeps the last member's id, so references to it and the graph's
output stay as they were.

Used only at the ``aggressive`` level with ``preserve_structure=False``: a
fused task is retried as a whole (its members must be idempotent) and the
outputs of its members before the last are not stored."""

from __future__ import annotations

import asyncio
import functools
import json
import math
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from ..core.context import TaskContext, WaitForRun
from ..core.errors import InvalidInput, NonRetryableError
from ..core.options import MAX_SECONDS, StepOptions
from ..graph import TaskGraph, TaskSpec, resolve
from ..handlers import HandlerRegistry, HandlerSpec, _call

FUSED = "htdag.fused"  # the engine handler of a fused chain
SUBGOAL_HANDLER = "subgoal"  # the built-in handler that waits for a child run
# Options a fused task merges from its members; any other option (one that says
# where or how often a handler may run) must be the same for the whole chain.
MERGED_OPTIONS = frozenset({"max_attempts", "base_delay", "max_delay", "timeout", "priority"})
_SHOWN_OBSTACLES = 6  # how many obstacles a "nothing fused" reason names
T = TypeVar("T")


@dataclass(frozen=True)
class RestructureDecision:
    """What :func:`fuse_short_chains` did: the graph to build (the given one
    when nothing was fused), the task ids of each fused chain in order, and
    why, in one sentence. ``saved_hops`` is how many tasks fewer the graph has."""

    graph: TaskGraph
    fused: tuple[tuple[str, ...], ...]
    applied: bool
    reason: str
    saved_hops: int


def fuse_short_chains(graph: TaskGraph, predicted: Mapping[str, float | None], *,
                      max_seconds: float = 0.05, max_chain: int = 20) -> RestructureDecision:
    """Fuses every chain of at least 2 short tasks (at most ``max_chain`` per
    fused task) of a valid graph. ``predicted`` maps handler names to the
    predicted seconds of one call (None: unknown).

    A task is short when it is a plain task (kind ``task``, no map_over, not
    the ``subgoal`` handler nor an already fused chain) whose handler is
    predicted to take at most ``max_seconds``. Two short tasks ``a -> b`` chain
    when ``b`` depends on ``a`` only, nothing but ``b`` depends on (or
    references) ``a``, ``a`` is not the graph's output, and both have the same
    options apart from those a fused task merges (MERGED_OPTIONS)."""
    _check_limits(max_seconds, max_chain)
    graph.check()
    short = {t.id for t in graph.tasks if _why_not_short(t, predicted, max_seconds) is None}
    dependents = _dependents(graph)
    links: dict[str, str] = {}  # a -> b: b may run right after a, in a's task
    broken: list[str] = []
    for task in (t for t in graph.tasks if t.id in short):
        for dep in sorted(task.dependencies() & short):
            why = _why_not_linked(graph, graph.task(dep), task, dependents)
            if why is None:
                links[dep] = task.id
            else:
                broken.append(f"{dep}>{task.id}: {why}")
    chains = _chains([t.id for t in graph.tasks], links, max_chain)
    if not chains:
        reason = _nothing_fused(graph, predicted, max_seconds, short, broken)
        return RestructureDecision(graph, (), False, reason, 0)
    fused_graph = _fused_graph(graph, chains)
    members = sum(len(c) for c in chains)
    shown = ", ".join(">".join(c) for c in chains)
    reason = (f"fused {len(chains)} chain{'s' if len(chains) > 1 else ''} ({members} tasks -> "
              f"{len(chains)}): {shown}; each task predicted under {max_seconds:g} s")
    return RestructureDecision(fused_graph, tuple(tuple(c) for c in chains), True, reason,
                               members - len(chains))


def fused_members(task: TaskSpec) -> tuple[tuple[str, str], ...]:
    """(id, handler) of each member of a fused task, in order; () for any other
    task. For learners that predict a fused task from its members (its
    duration is about the sum of theirs) and for explaining a graph."""
    if task.handler != FUSED:
        return ()
    chain = _unescape(task.params.get("chain") or [])
    return tuple((str(m["id"]), str(m["handler"])) for m in chain)


def _check_limits(max_seconds: float, max_chain: int) -> None:
    if isinstance(max_seconds, bool) or not isinstance(max_seconds, int | float) \
            or not math.isfinite(max_seconds) or max_seconds < 0:
        raise InvalidInput(f"max_seconds must be a finite number of seconds >= 0, "
                           f"not {max_seconds!r}")
    if isinstance(max_chain, bool) or not isinstance(max_chain, int) or max_chain < 2:
        raise InvalidInput(f"max_chain must be a whole number >= 2 (a chain needs two tasks), "
                           f"not {max_chain!r}")


def _why_not_short(task: TaskSpec, predicted: Mapping[str, float | None],
                   max_seconds: float) -> str | None:
    """None for a short plain task, else what keeps it out of every chain."""
    if task.kind == "goal":
        return "a goal task"
    if task.map_over is not None:
        return "a map task"
    if task.handler in (SUBGOAL_HANDLER, FUSED):
        return "a subgoal" if task.handler == SUBGOAL_HANDLER else "already fused"
    seconds = predicted.get(str(task.handler))
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return f"no prediction for {task.handler!r}"
    if seconds > max_seconds:
        return f"predicted {seconds:.3g} s"
    return None


def _nothing_fused(graph: TaskGraph, predicted: Mapping[str, float | None],
                   max_seconds: float, short: set[str], broken: list[str]) -> str:
    """Why no chain was fused, naming the first few obstacles."""
    if not short:
        head = f"no task is predicted under {max_seconds:g} s"
    elif broken:
        head = "no two short tasks form a chain"
    else:
        head = "no short task depends on another"
    obstacles = broken + [f"{t.id}: {why}" for t in graph.tasks
                          if (why := _why_not_short(t, predicted, max_seconds)) is not None]
    shown = "; ".join(obstacles[:_SHOWN_OBSTACLES])
    if len(obstacles) > _SHOWN_OBSTACLES:
        shown += f"; {len(obstacles) - _SHOWN_OBSTACLES} more"
    return f"nothing fused: {head}" + (f" ({shown})" if shown else "")


def _dependents(graph: TaskGraph) -> dict[str, set[str]]:
    """Task id -> the ids of the tasks that depend on or reference it."""
    found: dict[str, set[str]] = {t.id: set() for t in graph.tasks}
    for task in graph.tasks:
        for dep in task.dependencies():
            found[dep].add(task.id)
    return found


def _why_not_linked(graph: TaskGraph, first: TaskSpec, then: TaskSpec,
                    dependents: Mapping[str, set[str]]) -> str | None:
    """None when ``then`` can run right after ``first`` in one task, else why not."""
    others = sorted(then.dependencies() - {first.id})
    if others:
        return f"fan-in ({then.id} also depends on {', '.join(others)})"
    users = sorted(dependents[first.id] - {then.id})
    if users:
        return f"fan-out ({first.id} is also used by {', '.join(users)})"
    if graph.output == first.id:
        return f"{first.id} is the graph's output"
    if _fixed_options(first.options) != _fixed_options(then.options):
        return "their options differ"
    return None


def _fixed_options(options: StepOptions) -> dict[str, Any]:
    return {k: v for k, v in options.model_dump().items() if k not in MERGED_OPTIONS}


def _chains(order: Sequence[str], links: Mapping[str, str], max_chain: int) -> list[list[str]]:
    """The linked paths, in graph order, cut into pieces of at most ``max_chain``
    (a piece of one task is left alone)."""
    linked_to = set(links.values())
    chains: list[list[str]] = []
    for head in order:
        if head not in links or head in linked_to:
            continue
        path = [head]
        while path[-1] in links:
            path.append(links[path[-1]])
        pieces = (path[i:i + max_chain] for i in range(0, len(path), max_chain))
        chains.extend(piece for piece in pieces if len(piece) >= 2)
    return chains


def _fused_graph(graph: TaskGraph, chains: Sequence[Sequence[str]]) -> TaskGraph:
    """The graph with each chain replaced by one task where its last member was."""
    fused = {chain[-1]: _fused_task([graph.task(i) for i in chain]) for chain in chains}
    absorbed = {i for chain in chains for i in chain[:-1]}
    tasks = [fused.get(t.id, t) for t in graph.tasks if t.id not in absorbed]
    return graph.model_copy(update={"tasks": tasks}).check()


def _fused_task(members: Sequence[TaskSpec]) -> TaskSpec:
    """One task running ``members`` in order. Their params are stored escaped
    (a ``$`` more in front of every string starting with one), so references
    between members are not dependencies of the fused task: it depends on what
    the first member depends on, and nothing else."""
    chain = [{"id": m.id, "handler": m.handler, "params": m.params,
              "description": m.description} for m in members]
    return TaskSpec(id=members[-1].id, description="fused chain: "
                    + " > ".join(m.id for m in members),
                    handler=FUSED, params={"chain": _escape(chain)},
                    depends_on=sorted(members[0].dependencies()),
                    options=_merged_options([m.options for m in members]))


def _merged_options(options: Sequence[StepOptions]) -> StepOptions:
    """The largest max_attempts, delays and priority; the timeouts summed (none
    if any member has none). The other options are the same for every member."""
    timeouts = [o.timeout for o in options]
    total = None if any(t is None for t in timeouts) \
        else min(math.fsum(t for t in timeouts if t is not None), MAX_SECONDS)
    return options[-1].updated({
        "max_attempts": max(o.max_attempts for o in options),
        "base_delay": max(o.base_delay for o in options),
        "max_delay": max(o.max_delay for o in options),
        "timeout": total,
        "priority": max(o.priority for o in options)})


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return "$" + value if value.startswith("$") else value
    if isinstance(value, Mapping):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def _unescape(value: Any) -> Any:
    """The inverse of _escape: every escaped string starting with ``$`` has two."""
    if isinstance(value, str):
        return value[1:] if value.startswith("$") else value
    if isinstance(value, Mapping):
        return {k: _unescape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    return value


# the runtime ------------------------------------------------------------------------

FusedHandler = Callable[[dict[str, Any], TaskContext], Awaitable[Any]]


def fused_chain_handler(registry: HandlerRegistry) -> FusedHandler:
    """The engine handler ``htdag.fused`` over ``registry``: runs a fused
    task's members in order, each with its params resolved against the
    outputs of the fused task's dependencies and of the earlier members, as
    each would have been as a task of its own, and returns the last output.
    Members are registered handlers found by name (never code from the graph);
    async ones run on the worker's loop, runs of sync ones in one thread. A
    member that raises fails the fused task with its error."""

    async def run_fused_chain(inp: dict[str, Any], ctx: TaskContext) -> Any:
        chain = _unescape(inp["run"]["params"][ctx.step]["chain"])
        specs = [_member_handler(registry, member) for member in chain]
        outputs = {k: v for k, v in inp.items() if k != "run"}
        members = list(zip(chain, specs, strict=True))
        result: Any = None
        for group in _runs_of_one_kind(members):
            if group[0][1].is_async:
                for member, spec in group:
                    result = await _call(spec, _params(member, outputs), ctx,
                                         member.get("description", ""))
                    _keep(outputs, member, chain, result)
            else:
                result = await _in_thread(functools.partial(_run_sync, group, outputs, chain, ctx))
        return result

    run_fused_chain.__name__ = "run_fused_chain"
    return run_fused_chain


def _member_handler(registry: HandlerRegistry, member: Mapping[str, Any]) -> HandlerSpec:
    name = member.get("handler")
    if not isinstance(name, str) or name not in registry:
        raise NonRetryableError(
            f"fused chain member {member.get('id')!r} calls handler {name!r}, which this "
            f"worker does not have; run it on a worker whose registry has it")
    return registry.get(name)


def _runs_of_one_kind(members: Iterable[tuple[dict[str, Any], HandlerSpec]]
                      ) -> list[list[tuple[dict[str, Any], HandlerSpec]]]:
    """Consecutive members grouped by sync or async (each sync group is one thread hop)."""
    groups: list[list[tuple[dict[str, Any], HandlerSpec]]] = []
    for member in members:
        if groups and groups[-1][0][1].is_async == member[1].is_async:
            groups[-1].append(member)
        else:
            groups.append([member])
    return groups


def _params(member: Mapping[str, Any], outputs: Mapping[str, Any]) -> dict[str, Any]:
    return dict(resolve(member.get("params") or {}, outputs))


def _run_sync(group: Sequence[tuple[dict[str, Any], HandlerSpec]], outputs: dict[str, Any],
              chain: Sequence[Mapping[str, Any]], ctx: TaskContext) -> Any:
    result: Any = None
    for member, spec in group:
        ctx.raise_if_cancelled()
        result = _call(spec, _params(member, outputs), ctx, member.get("description", ""))
        _keep(outputs, member, chain, result)
    return result


def _keep(outputs: dict[str, Any], member: Mapping[str, Any],
          chain: Sequence[Mapping[str, Any]], result: Any) -> None:
    """Records a member's output for the members after it, as the database
    would have handed it to them: through JSON (tuples become lists, and so
    on). Only the last member may return a child run to wait for."""
    if member is chain[-1]:
        return
    if isinstance(result, WaitForRun):
        raise NonRetryableError(
            f"fused chain member {member['id']!r} returned a child run to wait for; only "
            "the last member of a fused chain may: do not fuse tasks that submit subgoals")
    try:
        outputs[member["id"]] = json.loads(json.dumps(result, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise NonRetryableError(
            f"fused chain member {member['id']!r} returned a value that is not JSON "
            f"({type(result).__name__}: {exc}); return dicts, lists, strings, numbers, "
            "booleans or None") from None


async def _in_thread(fn: Callable[[], T]) -> T:
    """``fn()`` in a daemon thread: abandoned on timeout or cancellation like a
    sync handler (it never keeps the process alive)."""
    future: Future[T] = Future()

    def work() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                future.set_exception(exc)

    threading.Thread(target=work, name="htdag-fused-chain", daemon=True).start()
    return await asyncio.wrap_future(future)
