"""What a handler gets besides its input."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .errors import NonRetryableError, TaskCancelled

if TYPE_CHECKING:
    from .definitions import Flow
    from .engine import AsyncEngine


@dataclass(frozen=True)
class WaitForRun:
    """Returned by a handler: the task gives up its worker slot and completes
    with the output of this child run (or fails if the child fails)."""

    run_id: uuid.UUID

    def __repr__(self) -> str:
        return f"<waiting for run {self.run_id}>"


@dataclass
class TaskContext:
    """Passed as the second argument to handlers that take two parameters."""

    run_id: uuid.UUID
    step: str
    task_index: int
    attempt: int
    task_id: int
    engine: AsyncEngine = field(repr=False)
    logger: logging.Logger = field(repr=False)
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def idempotency_key(self) -> str:
        """Stable across retries of this task: use it to make side effects idempotent."""
        return f"{self.run_id}:{self.step}:{self.task_index}"

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()

    def raise_if_cancelled(self) -> None:
        """Long sync handlers call this now and then to stop when their run is cancelled."""
        if self.cancelled.is_set():
            raise TaskCancelled(f"task {self.step}[{self.task_index}] of run {self.run_id} "
                                "was cancelled")

    max_depth: int = 10
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    async def start_child_run(self, flow: Flow | str, input: Any = None, *,
                              wait: bool = True) -> WaitForRun | uuid.UUID:
        """Starts a child run of this task's run. With ``wait`` (the default),
        return the result from the handler: the task then waits for the child
        without holding a worker slot and completes with the child's output.
        Without, the child runs on its own and this returns its run id."""
        run = await self.engine.start(flow, input, parent_run_id=self.run_id,
                                      parent_task_id=self.task_id if wait else None,
                                      max_depth=self.max_depth)
        return WaitForRun(run.run_id) if wait else run.run_id

    def start_child_run_sync(self, flow: Flow | str, input: Any = None, *,
                             wait: bool = True) -> WaitForRun | uuid.UUID:
        """The form of :meth:`start_child_run` for sync handlers (in their thread)."""
        if self.loop is None:
            raise RuntimeError("this context is not attached to a worker's event loop")
        future = asyncio.run_coroutine_threadsafe(
            self.start_child_run(flow, input, wait=wait), self.loop)
        return future.result()

    subgoals: SubgoalSubmitter | None = field(default=None, repr=False)

    async def submit_subgoal(self, goal_or_graph: Any, *, wait: bool = True,
                             context: dict[str, Any] | None = None) -> WaitForRun | uuid.UUID:
        """Decomposes a goal (or takes a TaskGraph) and starts it as a child run;
        see :meth:`start_child_run`. The worker's planner plans it: a worker a
        Planner started has one; give another worker ``subgoals=planner``."""
        if self.subgoals is None:
            raise NonRetryableError(
                "this worker has no planner for subgoals: run tasks that submit subgoals "
                "on a worker started by a Planner, or pass subgoals=planner to the worker "
                "(htdag worker: define PLANNER = htdag.Planner(...) in the module)")
        return await self.subgoals.submit_subgoal(self, goal_or_graph, wait, context or {})

    def submit_subgoal_sync(self, goal_or_graph: Any, *, wait: bool = True,
                            context: dict[str, Any] | None = None) -> WaitForRun | uuid.UUID:
        if self.loop is None:
            raise RuntimeError("this context is not attached to a worker's event loop")
        return asyncio.run_coroutine_threadsafe(
            self.submit_subgoal(goal_or_graph, wait=wait, context=context), self.loop).result()

    def extra(self) -> dict[str, Any]:
        return {"run_id": str(self.run_id), "step": self.step, "task_index": self.task_index}


class SubgoalSubmitter(Protocol):
    """What plans a subgoal and starts it as a child run (a Planner): the core
    knows nothing of goals, only that something does this."""

    async def submit_subgoal(self, ctx: TaskContext, goal_or_graph: Any, wait: bool,
                             context: dict[str, Any]) -> WaitForRun | uuid.UUID: ...


def context_parameter(fn: Callable[..., Any]) -> str | None:
    """The name of ``fn``'s parameter that receives the TaskContext, the one rule
    for flow steps and catalogue handlers alike: a parameter named ``ctx``, or
    one annotated ``TaskContext``. None when it takes none."""
    try:
        params = inspect.signature(fn, eval_str=True).parameters.values()
    except Exception:  # noqa: BLE001 - unresolvable hints: fall back to their text
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            return None
    for param in params:
        annotation = param.annotation
        named = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        if param.name == "ctx" or annotation is TaskContext or named.endswith("TaskContext"):
            return param.name
    return None
