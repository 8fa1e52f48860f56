"""The sync facade: each method runs its async twin on htdag's private event
loop (see _portal), so it works in scripts and inside Jupyter alike."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Self

from ._portal import portal
from .engine import AsyncEngine, AsyncRun, FlowRef, Handlers, RunId
from .status import RunStatus

if TYPE_CHECKING:
    from .models import HandlerStats, RunDetails, WorkerInfo
    from .models import Run as RunRow
    from .worker import Worker


class Run:
    """A handle on a run (sync)."""

    def __init__(self, handle: AsyncRun) -> None:
        self._handle = handle
        self.run_id: uuid.UUID = handle.run_id

    def wait(self, timeout: float | None = None) -> Any:
        return portal().call(self._handle.wait(timeout))

    def status(self) -> RunDetails:
        return portal().call(self._handle.status())

    def cancel(self) -> RunStatus:
        return portal().call(self._handle.cancel())

    def __repr__(self) -> str:
        return f"<run {self.run_id}>"


class BackgroundWorker:
    """A worker running on htdag's private loop while the caller goes on."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._future = portal().submit(worker.run())
        _open_workers.add(self)

    def stop(self, timeout: float | None = 60) -> None:
        """Stops claiming, lets running tasks finish, and waits for the worker to exit."""
        _open_workers.discard(self)
        portal().loop.call_soon_threadsafe(self.worker.stop)
        with contextlib.suppress(asyncio.CancelledError):
            self._future.result(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Engine:
    """The sync engine. ``htdag.connect()`` returns one; ``.aio`` is the async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.aio = engine
        _open_engines.add(self)

    @property
    def url(self) -> str:
        return self.aio.url

    def close(self) -> None:
        _open_engines.discard(self)
        portal().call(self.aio.close())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def store_flow(self, flow: Any) -> str:
        return portal().call(self.aio.store_flow(flow))

    def start(self, flow: FlowRef, input: Any = None, *, parent_run_id: RunId | None = None,
              max_depth: int = 10, max_tasks: int | None = None) -> Run:
        return Run(portal().call(self.aio.start(flow, input, parent_run_id=parent_run_id,
                                                max_depth=max_depth, max_tasks=max_tasks)))

    def run(self, flow: FlowRef, input: Any = None, *, timeout: float | None = None) -> Any:
        return portal().call(self.aio.run(flow, input, timeout=timeout))

    def status(self, run_id: RunId) -> RunDetails:
        return portal().call(self.aio.status(run_id))

    def wait(self, run_id: RunId, timeout: float | None = None) -> Any:
        return portal().call(self.aio.wait(run_id, timeout))

    def cancel(self, run_id: RunId) -> RunStatus:
        return portal().call(self.aio.cancel(run_id))

    def list_runs(self, *, status: RunStatus | str | None = None, flow: str | None = None,
                  parent_run_id: RunId | None = None, limit: int = 100) -> list[RunRow]:
        return portal().call(self.aio.list_runs(status=status, flow=flow,
                                                parent_run_id=parent_run_id, limit=limit))

    def list_workers(self) -> list[WorkerInfo]:
        return portal().call(self.aio.list_workers())

    def handler_stats(self, since: datetime | None = None) -> list[HandlerStats]:
        return portal().call(self.aio.handler_stats(since))

    def prune_attempts(self, older_than: timedelta | float | None = None) -> int:
        return portal().call(self.aio.prune_attempts(older_than))

    def set_concurrency_limit(self, key: str, max_running: int | None) -> int | None:
        return portal().call(self.aio.set_concurrency_limit(key, max_running))

    def concurrency_limits(self) -> dict[str, int]:
        return portal().call(self.aio.concurrency_limits())

    def start_worker(self, handlers: Handlers, **options: Any) -> BackgroundWorker:
        """Starts a worker in this process, in the background; stop() it when done."""
        return BackgroundWorker(self.aio.worker(handlers, **options))


# Strong references: an engine nobody closed still holds a pool, so it is closed at exit.
_open_workers: set[BackgroundWorker] = set()
_open_engines: set[Engine] = set()


@atexit.register
def _close_at_exit() -> None:
    """Workers and engines left open by a script are closed cleanly at exit."""
    for worker in list(_open_workers):
        with contextlib.suppress(Exception):
            worker.stop(timeout=10)
    for engine in list(_open_engines):
        with contextlib.suppress(Exception):
            engine.close()


def connect(url: str | None = None, *, pool_size: int = 10) -> Engine:
    """Connects to ``url``, or HTDAG_DATABASE_URL, DATABASE_URL, else the embedded
    PostgreSQL (started on first use and shared by your processes)."""
    return Engine(portal().call(AsyncEngine.connect(url, pool_size=pool_size)))


async def aconnect(url: str | None = None, *, pool_size: int = 10) -> AsyncEngine:
    """The async form of :func:`connect`."""
    return await AsyncEngine.connect(url, pool_size=pool_size)
