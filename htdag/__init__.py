"""htdag: goal-driven agent orchestration on a durable PostgreSQL DAG engine."""

from .composer import (
    ComposeResult,
    acompose_from_goal,
    acompose_from_task_graph,
    acompose_multiple_workflows,
    compose_from_goal,
    compose_from_task_graph,
    compose_multiple_workflows,
)
from .core.context import TaskContext
from .core.definitions import Flow, Step, StepOptions
from .core.engine import AsyncEngine, AsyncRun
from .core.errors import (
    HtdagError,
    InvalidFlow,
    InvalidInput,
    NonRetryableError,
    RunCancelled,
    RunFailed,
    UnknownFlowError,
    UnknownRunError,
    WaitTimeout,
)
from .core.status import RunStatus, StepStatus, TaskStatus
from .core.sync import Engine, Run, aconnect, connect
from .core.worker import Worker
from .graph import GraphError, TaskGraph
from .handlers import handler
from .notifications import Event, EventKind, alisten, get_recent_events, listen

__version__ = "0.1.0"

__all__ = [
    # goals
    "compose_from_goal", "acompose_from_goal", "compose_from_task_graph",
    "acompose_from_task_graph", "compose_multiple_workflows", "acompose_multiple_workflows",
    "ComposeResult", "TaskGraph", "GraphError", "handler",
    # connect and run
    "connect", "aconnect", "Engine", "AsyncEngine", "Run", "AsyncRun",
    # define
    "Flow", "Step", "StepOptions",
    # execute
    "Worker", "TaskContext",
    # events
    "listen", "alisten", "get_recent_events", "Event", "EventKind",
    # status values
    "RunStatus", "StepStatus", "TaskStatus",
    # errors
    "HtdagError", "InvalidFlow", "InvalidInput", "NonRetryableError", "RunFailed",
    "RunCancelled", "WaitTimeout", "UnknownFlowError", "UnknownRunError",
]
