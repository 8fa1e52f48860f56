"""The engine API: store flows, start, inspect, wait for and cancel runs.

:class:`AsyncEngine` is the implementation; :class:`Engine` is its sync facade
(every method one line calling the async one on htdag's private loop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Self

import psycopg

from ._json import input_json
from ._retry import backoff, retry
from .db import Database
from .definitions import Flow, HandlerFn
from .errors import (
    InvalidOptionError,
    RunCancelled,
    RunFailed,
    UnknownFlowError,
    UnknownRunError,
    WaitTimeout,
)
from .listener import Listener
from .status import RunStatus
from .store import Store

if TYPE_CHECKING:
    from .models import HandlerStats, Run, RunDetails, WorkerInfo
    from .worker import Worker

RunId = uuid.UUID | str
FlowRef = Flow | str
Handlers = Mapping[str, HandlerFn] | Iterable[Flow | Mapping[str, HandlerFn]]


def _run_uuid(run_id: RunId) -> uuid.UUID:
    if isinstance(run_id, uuid.UUID):
        return run_id
    try:
        return uuid.UUID(str(run_id))
    except ValueError:
        raise UnknownRunError(f"{run_id!r} is not a run id (a UUID)") from None


class AsyncEngine:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.store = Store(db)
        self._stored_flows: set[str] = set()
        self._listener: Listener | None = None
        self._on_close: list[Callable[[], Awaitable[Any]]] = []
        # Workers this process started for callers above the core (a Planner's), by
        # their key: each is started once and stopped when the engine closes.
        self.local_workers: dict[Hashable, LocalWorker] = {}
        self.local_workers_lock = asyncio.Lock()

    @classmethod
    async def connect(cls, url: str | None = None, *, pool_size: int = 10) -> AsyncEngine:
        """Connects to ``url`` (or HTDAG_DATABASE_URL, DATABASE_URL, else the embedded
        server) and brings the schema up to date."""
        return cls(await Database.open(url, max_size=pool_size))

    def on_close(self, callback: Callable[[], Awaitable[Any]]) -> None:
        """Runs ``callback`` when the engine closes (before its connections go)."""
        self._on_close.append(callback)

    async def close(self) -> None:
        callbacks, self._on_close = self._on_close, []
        for callback in reversed(callbacks):
            try:
                await callback()
            except Exception:
                logging.getLogger("htdag.engine").exception("an on_close callback failed")
        if self._listener is not None:
            await self._listener.close()
        await self.db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        return self.db.url

    @property
    def listener(self) -> Listener:
        """The process's shared LISTEN connection (started on first use)."""
        if self._listener is None:
            self._listener = Listener(self.db.url)
        return self._listener

    # flows -------------------------------------------------------------------

    async def store_flow(self, flow: Flow) -> str:
        """Stores the flow (once per content hash) and returns its hash."""
        flow_hash = flow.hash
        if flow_hash not in self._stored_flows:
            await self.store.add_flow(flow_hash, flow.to_definition())
            self._stored_flows.add(flow_hash)
        return flow_hash

    async def _flow_hash(self, flow: FlowRef) -> str:
        if isinstance(flow, Flow):
            return await self.store_flow(flow)
        row = await self.store.flow_by_name(flow)
        if row is None:
            raise UnknownFlowError(f"no stored flow is named {flow!r} (or has that hash); "
                                   "start it once from its Flow object")
        return str(row["flow_hash"])

    # runs --------------------------------------------------------------------

    async def start(self, flow: FlowRef, input: Any = None, *,
                    parent_run_id: RunId | None = None, parent_task_id: int | None = None,
                    max_depth: int = 10, max_tasks: int | None = None) -> AsyncRun:
        """Starts a run of ``flow`` (a Flow, or the name or hash of a stored one).

        A child run names its parent (and the task waiting for it, if any); it
        may be at most ``max_depth`` levels below its root. ``max_tasks`` caps
        the tasks of a root run and all its descendants."""
        payload = input_json(input)
        flow_hash = await self._flow_hash(flow)
        parent = _run_uuid(parent_run_id) if parent_run_id is not None else None
        run_id = await self.store.start_run(flow_hash, payload, parent, parent_task_id,
                                            max_depth, max_tasks)
        return AsyncRun(self, run_id)

    async def run(self, flow: FlowRef, input: Any = None, *,
                  timeout: float | None = None) -> Any:
        """Starts a run and waits for its output."""
        handle = await self.start(flow, input)
        return await handle.wait(timeout)

    async def status(self, run_id: RunId) -> RunDetails:
        from .models import Run, RunDetails, StepState, Task

        rid = _run_uuid(run_id)
        row = await self.store.get_run(rid)
        if row is None:
            raise UnknownRunError(f"no run has id {rid}; list runs with engine.list_runs()")
        steps = await self.store.get_step_states(rid)
        tasks = await self.store.get_tasks(rid)
        return RunDetails(run=Run.model_validate(row),
                          steps=[StepState.model_validate(s) for s in steps],
                          tasks=[Task.model_validate(t) for t in tasks])

    async def wait(self, run_id: RunId, timeout: float | None = None) -> Any:
        """Waits for the run to finish: returns its output, or raises RunFailed,
        RunCancelled, or WaitTimeout (the run goes on)."""
        rid = _run_uuid(run_id)
        changed = asyncio.Event()
        key = str(rid)

        def on_notify(channel: str, payload: str) -> None:
            if payload.startswith(key):
                changed.set()

        sub = self.listener.subscribe("htdag_run", on_notify, changed.set)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                changed.clear()
                # Through a server restart or a dropped network: keep waiting.
                outcome = await retry(lambda: self.store.run_outcome(rid),
                                      retry_on=psycopg.OperationalError,
                                      delays=backoff(0.05, 1.0), deadline=deadline)
                if outcome is None:
                    raise UnknownRunError(f"no run has id {rid}")
                status = RunStatus(outcome["status"])
                if status is RunStatus.COMPLETED:
                    return outcome["output"]
                if status is RunStatus.FAILED:
                    err = outcome["error"] or {}
                    raise RunFailed(rid, err.get("step"), err.get("task_index"),
                                    err.get("message", "unknown error"))
                if status is RunStatus.CANCELLED:
                    raise RunCancelled(rid)
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise WaitTimeout(f"run {rid} did not finish within {timeout}s; it goes on "
                                      "running: wait again or cancel it")
                # The notification wakes us; the poll is the fallback if one is lost.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(5.0, left or 5.0)):  # keeps a cancellation
                        await changed.wait()
        finally:
            sub.close()

    async def cancel(self, run_id: RunId) -> RunStatus:
        """Cancels a running run (and its child runs); returns its status."""
        return RunStatus(await self.store.cancel_run(_run_uuid(run_id)))

    async def list_runs(self, *, status: RunStatus | str | None = None,
                        flow: str | None = None, parent_run_id: RunId | None = None,
                        limit: int = 100) -> list[Run]:
        from .models import Run

        value = RunStatus(status).value if status is not None else None
        parent = _run_uuid(parent_run_id) if parent_run_id is not None else None
        rows = await self.store.list_runs(value, flow, limit, parent)
        return [Run.model_validate(r) for r in rows]

    async def list_workers(self) -> list[WorkerInfo]:
        from .models import WorkerInfo

        return [WorkerInfo.model_validate(w) for w in await self.store.list_workers()]

    async def handler_stats(self, since: datetime | None = None) -> list[HandlerStats]:
        """Per handler, its attempts finished since ``since`` (all kept when None):
        counts by outcome, duration quantiles, queue wait, frequent errors."""
        from .models import HandlerStats

        return [HandlerStats.model_validate(r) for r in await self.store.handler_stats(since)]

    async def prune_attempts(self, older_than: timedelta | float | None = None) -> int:
        """Deletes recorded attempts older than ``older_than`` (seconds or a
        timedelta), or than the ``attempt_retention_days`` setting (30 days);
        returns how many. The optimizer learns from what is kept."""
        seconds = older_than.total_seconds() if isinstance(older_than, timedelta) else older_than
        if seconds is not None and seconds < 0:
            raise ValueError(f"older_than must be >= 0, not {seconds}")
        return await self.store.prune_attempts(seconds)

    async def set_concurrency_limit(self, key: str, max_running: int | None) -> int | None:
        """At most ``max_running`` tasks of steps with ``concurrency_key=key`` run
        at once, over every worker on this database (None: no limit). Returns the
        previous limit."""
        if max_running is not None and (isinstance(max_running, bool)
                                        or not isinstance(max_running, int) or max_running < 1):
            raise InvalidOptionError(f"max_running must be an int >= 1 or None, "
                                     f"not {max_running!r}")
        if not isinstance(key, str) or not key:
            raise InvalidOptionError(f"a concurrency key is a non-empty string, not {key!r}")
        return await self.store.set_concurrency_limit(key, max_running)

    async def concurrency_limits(self) -> dict[str, int]:
        """Every concurrency key's limit."""
        return await self.store.concurrency_limits()

    def worker(self, handlers: Handlers, **options: Any) -> Worker:
        """A worker for these handlers (run it with ``await worker.run()``)."""
        from .worker import Worker

        return Worker(self, handlers, **options)

    def start_local_worker(self, key: Hashable, worker: Worker, owner: object = None) -> None:
        """Runs ``worker`` in the background on this loop under ``key`` (see
        local_workers) until the engine closes."""
        job = asyncio.get_running_loop().create_task(worker.run(), name="htdag-local-worker")
        self.local_workers[key] = LocalWorker(worker, job, owner)

        async def stop() -> None:
            worker.stop()
            await asyncio.wait((job,), timeout=worker.shutdown_timeout + 5)

        self.on_close(stop)


@dataclass(frozen=True)
class LocalWorker:
    """A worker an engine runs in this process for someone (``owner``)."""

    worker: Worker
    job: asyncio.Task[None]
    owner: object


class AsyncRun:
    """A handle on a run."""

    def __init__(self, engine: AsyncEngine, run_id: uuid.UUID) -> None:
        self.engine = engine
        self.run_id = run_id

    async def wait(self, timeout: float | None = None) -> Any:
        return await self.engine.wait(self.run_id, timeout)

    async def status(self) -> RunDetails:
        return await self.engine.status(self.run_id)

    async def cancel(self) -> RunStatus:
        return await self.engine.cancel(self.run_id)

    def __repr__(self) -> str:
        return f"<run {self.run_id}>"
