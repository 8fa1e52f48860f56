"""What a handler gets besides its input."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import TaskCancelled

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

    async def submit_subgoal(self, goal_or_graph: Any, *, wait: bool = True,
                             context: dict[str, Any] | None = None) -> WaitForRun | uuid.UUID:
        """Decomposes a goal (or takes a TaskGraph) and starts it as a child run;
        see :meth:`start_child_run`. Needs the planning layer (``import htdag``)."""
        if _subgoal_submitter is None:
            raise RuntimeError("subgoals need htdag's planning layer: import htdag.composer")
        return await _subgoal_submitter(self, goal_or_graph, wait, context or {})

    def submit_subgoal_sync(self, goal_or_graph: Any, *, wait: bool = True,
                            context: dict[str, Any] | None = None) -> WaitForRun | uuid.UUID:
        if self.loop is None:
            raise RuntimeError("this context is not attached to a worker's event loop")
        return asyncio.run_coroutine_threadsafe(
            self.submit_subgoal(goal_or_graph, wait=wait, context=context), self.loop).result()

    def extra(self) -> dict[str, Any]:
        return {"run_id": str(self.run_id), "step": self.step, "task_index": self.task_index}


# The planning layer installs this (core knows nothing of goals): it turns a
# goal or graph into a flow and starts it with ctx.start_child_run.
SubgoalSubmitter = Callable[["TaskContext", Any, bool, dict[str, Any]],
                            Awaitable[WaitForRun | uuid.UUID]]
_subgoal_submitter: SubgoalSubmitter | None = None


def install_subgoal_submitter(submitter: SubgoalSubmitter) -> None:
    global _subgoal_submitter
    _subgoal_submitter = submitter
