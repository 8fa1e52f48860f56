"""Flows by hand and what runs them: step options, run handles, status values,
read models and the worker (``htdag.Flow`` and ``htdag.connect`` are at the root)."""

from .core.context import WaitForRun
from .core.definitions import Flow, Step, StepOptions
from .core.engine import AsyncRun
from .core.models import Run as RunRow
from .core.models import RunDetails, StepState, Task, WorkerInfo
from .core.status import RunStatus, StepStatus, TaskStatus
from .core.worker import Worker
from .planner import ComposeResult

__all__ = [
    "Flow", "Step", "StepOptions", "AsyncRun", "WaitForRun", "Worker", "ComposeResult",
    "RunStatus", "StepStatus", "TaskStatus", "RunRow", "RunDetails", "StepState", "Task",
    "WorkerInfo",
]
