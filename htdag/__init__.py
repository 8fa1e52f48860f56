"""htdag: goal-driven agent orchestration on a durable PostgreSQL DAG engine.

The root holds what most programs use; the rest lives in ``htdag.errors`` (every
exception), ``htdag.events`` (the event stream and sinks), ``htdag.flows`` (step
options, run and status types, the worker), ``htdag.decomposers`` and
``htdag.optimizer`` (learned step options: ``Optimizer``)."""

from .composer import (
    acompose_from_goal,
    acompose_from_task_graph,
    acompose_multiple_workflows,
    compose_from_goal,
    compose_from_task_graph,
    compose_multiple_workflows,
)
from .core.context import TaskContext
from .core.definitions import Flow
from .core.engine import AsyncEngine
from .core.errors import HtdagError, NonRetryableError
from .core.sync import Engine, Run, aconnect, connect
from .graph import TaskGraph
from .handlers import handler
from .notifications import alisten, listen
from .planner import Planner

__version__ = "0.1.0"

__all__ = [
    # goals
    "compose_from_goal", "acompose_from_goal", "compose_from_task_graph",
    "acompose_from_task_graph", "compose_multiple_workflows", "acompose_multiple_workflows",
    "Planner", "TaskGraph", "handler",
    # the engine
    "connect", "aconnect", "Engine", "AsyncEngine", "Run", "Flow", "TaskContext",
    # events
    "listen", "alisten",
    # errors (all of them: htdag.errors)
    "HtdagError", "NonRetryableError",
]
