"""compose_from_goal and friends: the module-level forms of a default Planner
(rules over the handlers registered with ``@htdag.handler``, on the database
HTDAG_DATABASE_URL, DATABASE_URL or the embedded server names). For your own
decomposer, catalogue or limits, make a :class:`~htdag.Planner` and call its
methods; the keyword arguments here make one for the call."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from .decomposers.base import Decomposer
from .graph import TaskGraph
from .planner import ComposeResult, EngineRef, Handlers, Planner

_default: Planner | None = None
_default_lock = threading.Lock()


def default_planner() -> Planner:
    """The planner behind the module-level functions (made on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Planner()
        return _default


def _planner(decomposer: Decomposer | None, handlers: Handlers, max_tasks: int | None
             ) -> Planner:
    base = default_planner()
    if decomposer is None and handlers is None and max_tasks is None:
        return base
    return base.replace(decomposer=decomposer, handlers=handlers, max_tasks=max_tasks)


async def acompose_from_goal(goal: str, *, decomposer: Decomposer | None = None,
                             handlers: Handlers = None, max_tasks: int | None = None,
                             engine: EngineRef = None, **options: Any) -> ComposeResult:
    """Decomposes ``goal``, builds its flow, starts it and (by default) waits for
    its output: see :meth:`Planner.acompose` for the options."""
    return await _planner(decomposer, handlers, max_tasks).acompose(goal, engine=engine,
                                                                    **options)


async def acompose_from_task_graph(graph: TaskGraph | Mapping[str, Any], *,
                                   handlers: Handlers = None, max_tasks: int | None = None,
                                   engine: EngineRef = None, **options: Any) -> ComposeResult:
    """Builds, starts and (by default) waits for a task graph."""
    return await _planner(None, handlers, max_tasks).acompose_graph(graph, engine=engine,
                                                                    **options)


async def acompose_multiple_workflows(goals: Iterable[str], *,
                                      decomposer: Decomposer | None = None,
                                      handlers: Handlers = None, max_tasks: int | None = None,
                                      **options: Any) -> list[ComposeResult]:
    """Composes several goals concurrently; results in the order of the goals."""
    return await _planner(decomposer, handlers, max_tasks).acompose_many(goals, **options)


def compose_from_goal(goal: str, *, decomposer: Decomposer | None = None,
                      handlers: Handlers = None, max_tasks: int | None = None,
                      **options: Any) -> ComposeResult:
    """The sync form of :func:`acompose_from_goal` (works inside Jupyter too)."""
    return _planner(decomposer, handlers, max_tasks).compose(goal, **options)


def compose_from_task_graph(graph: TaskGraph | Mapping[str, Any], *, handlers: Handlers = None,
                            max_tasks: int | None = None, **options: Any) -> ComposeResult:
    """The sync form of :func:`acompose_from_task_graph`."""
    return _planner(None, handlers, max_tasks).compose_graph(graph, **options)


def compose_multiple_workflows(goals: Iterable[str], *, decomposer: Decomposer | None = None,
                               handlers: Handlers = None, max_tasks: int | None = None,
                               **options: Any) -> list[ComposeResult]:
    """The sync form of :func:`acompose_multiple_workflows`."""
    return _planner(decomposer, handlers, max_tasks).compose_many(goals, **options)


__all__ = ["ComposeResult", "Planner", "acompose_from_goal", "acompose_from_task_graph",
           "acompose_multiple_workflows", "compose_from_goal", "compose_from_task_graph",
           "compose_multiple_workflows", "default_planner"]
