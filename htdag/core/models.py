"""Read models (sqlmodel) of the runtime tables in the ``htdag`` schema.

They describe the tables for people who query them with SQL or SQLAlchemy;
the engine fills them from its own queries. Their tables live in
:data:`htdag_metadata`, not in ``SQLModel.metadata``: a user's
``SQLModel.metadata.create_all()`` must never create or touch htdag's schema,
which only htdag's migrations change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Column, MetaData, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from .status import RunStatus, StepStatus, TaskStatus

htdag_metadata = MetaData()


class _HtdagTable(SQLModel, registry=registry(metadata=htdag_metadata)):
    """The base of the read models: their own registry keeps their tables out of
    ``SQLModel.metadata``."""


class Run(_HtdagTable, table=True):
    __tablename__ = "runs"
    __table_args__ = {"schema": "htdag"}

    run_id: uuid.UUID = Field(primary_key=True)
    flow_hash: str
    status: RunStatus
    input: Any = Field(sa_column=Column(JSONB))
    output: Any = Field(default=None, sa_column=Column(JSONB))
    error: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    remaining_steps: int
    parent_run_id: uuid.UUID | None = None
    parent_task_id: int | None = None
    root_run_id: uuid.UUID
    depth: int = 0
    max_tasks: int | None = None
    tasks_created: int = 0
    started_at: datetime
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    cancelled_at: datetime | None = None
    error_code: str | None = None  # an htdag.core.status.ErrorCode value
    max_depth: int | None = None  # on a root run: its tree's depth limit


class StepState(_HtdagTable, table=True):
    __tablename__ = "step_states"
    __table_args__ = {"schema": "htdag"}

    run_id: uuid.UUID = Field(primary_key=True)
    step_name: str = Field(primary_key=True)
    flow_hash: str
    status: StepStatus
    remaining_deps: int
    remaining_tasks: int | None = None
    initial_tasks: int | None = None
    output: Any = Field(default=None, sa_column=Column(JSONB))
    error: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    cancelled_at: datetime | None = None


class Task(_HtdagTable, table=True):
    __tablename__ = "tasks"
    __table_args__ = {"schema": "htdag"}

    task_id: int = Field(primary_key=True)
    run_id: uuid.UUID
    root_run_id: uuid.UUID  # the run's root, as on runs
    step_name: str
    task_index: int
    handler: str
    status: TaskStatus
    priority: int
    attempts_count: int
    max_attempts: int
    base_delay: float
    max_delay: float
    timeout: float | None = None
    available_at: datetime
    queued_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    cancelled_at: datetime | None = None
    claim_token: uuid.UUID | None = None
    worker_id: uuid.UUID | None = None
    lease_expires_at: datetime | None = None
    input: Any = Field(default=None, sa_column=Column(JSONB))  # a map task's element
    output: Any = Field(default=None, sa_column=Column(JSONB))
    error: str | None = None
    waiting_for_run_id: uuid.UUID | None = None
    concurrency_key: str | None = None  # its step's
    hedge_after: float | None = None  # its step's
    hedge_token: uuid.UUID | None = None  # a hedged second execution's claim
    hedge_worker_id: uuid.UUID | None = None
    hedge_started_at: datetime | None = None


class HandlerStats(BaseModel):
    """A handler's recorded attempts (htdag.handler_stats): how many, by outcome,
    the quantiles of its successful durations in seconds (None without one), the
    mean queue wait, and its most frequent error fingerprints with their counts."""

    handler: str
    attempts: int
    ok: int
    errors: int
    timeouts: int
    lost: int
    cancelled: int
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    p999: float | None = None
    mean_queue_wait: float | None = None
    failures: dict[str, int] = {}


class WorkerInfo(_HtdagTable, table=True):
    __tablename__ = "workers"
    __table_args__ = {"schema": "htdag"}

    worker_id: uuid.UUID = Field(primary_key=True)
    hostname: str
    pid: int
    handlers: list[str] = Field(sa_column=Column(ARRAY(Text)))
    concurrency: int
    started_at: datetime
    lease_seconds: float
    last_heartbeat_at: datetime
    stopped_at: datetime | None = None
    lost_at: datetime | None = None
    # How many more tasks its last exchange could have taken: ready tasks are
    # pushed to a worker with idle slots.
    idle_slots: int = 0
    tasks_pushed: int = 0  # so far; an exchange claims no more than its free slots


class RunDetails(BaseModel):
    """A run with its steps and tasks, as engine.status() returns it."""

    run: Run
    steps: list[StepState]
    tasks: list[Task]

    @property
    def status(self) -> RunStatus:
        return self.run.status

    def progress(self) -> tuple[int, int]:
        """(finished tasks, known tasks)."""
        finished = sum(t.status in (TaskStatus.COMPLETED, TaskStatus.FAILED,
                                    TaskStatus.CANCELLED) for t in self.tasks)
        return finished, len(self.tasks)
