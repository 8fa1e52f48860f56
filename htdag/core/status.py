"""Status values; they mirror the SQL enums in sql/schema/01_types.sql."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self is not RunStatus.RUNNING


class StepStatus(StrEnum):
    CREATED = "created"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskStatus(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    WAITING = "waiting"  # for the child run its handler started
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepKind(StrEnum):
    SINGLE = "single"
    MAP = "map"


class ErrorCode(StrEnum):
    """What stopped a failed run (runs.error_code), where it decides what follows."""

    LIMIT_REACHED = "limit_reached"  # not retried by the task waiting for the run
    TIMED_OUT = "timed_out"  # a step's timeout ran out on the task's last attempt

