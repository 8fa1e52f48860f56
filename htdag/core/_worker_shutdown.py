"""A stopping worker's last writes: what it still holds goes back to the
database before a deadline, even while the server is unreachable."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg

from ._worker_exchange import TRANSIENT
from .store import Completion, Failure, Store

log = logging.getLogger("htdag.worker")
T = TypeVar("T")


async def give_back_and_stop(
    store: Store, worker_id: uuid.UUID, deadline: float, *,
    waits: list[tuple[int, uuid.UUID, uuid.UUID]], done: list[Completion],
    failed: list[Failure], held: list[tuple[int, uuid.UUID]], handlers: list[str],
    lease_seconds: float,
) -> None:
    """Records the tasks now waiting for child runs, reports the buffered results,
    releases the tasks still ``held`` and marks the worker stopped. Each write is
    retried after transient errors (connections killed, a failover) until
    ``deadline``, and no try outlasts it (a pool alone may wait 30 s for a
    connection). What is not written by then is not lost: leases expire."""
    steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
    if waits:
        steps.append(("record waiting tasks", lambda: store.wait_for_runs(waits)))
    if done or failed:
        steps.append(("report results", lambda: store.exchange(
            worker_id, done, failed, 0, handlers, lease_seconds)))
    if held:
        steps.append(("release unfinished tasks", lambda: store.release_tasks(held)))
    steps.append(("mark the worker stopped", lambda: store.stop_worker(worker_id)))
    for what, call in steps:
        await _write_before(worker_id, deadline, what, call)


async def _write_before(worker_id: uuid.UUID, deadline: float, what: str,
                        call: Callable[[], Awaitable[Any]]) -> None:
    """One write of the shutdown, tried again after transient errors until
    ``deadline``."""
    delay = 0.05
    while True:
        try:
            await _within(deadline - time.monotonic(), call())
            return
        except TimeoutError:
            problem = "out of time"
        except TRANSIENT as exc:
            if time.monotonic() + delay < deadline:
                log.info("worker %s: cannot %s at shutdown (%s); retrying", worker_id,
                         what, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            problem = str(exc)
        except psycopg.Error as exc:
            problem = str(exc)
        log.error("worker %s: could not %s at shutdown (%s); the database will reclaim "
                  "its tasks when their leases expire", worker_id, what, problem)
        return


async def _within(seconds: float, call: Awaitable[T]) -> T:
    """``call``'s result, or TimeoutError after ``seconds``. Then it is cancelled but
    not waited for: psycopg may take seconds to cancel a query on a dead network."""
    task = asyncio.ensure_future(call)
    try:
        done, _ = await asyncio.wait((task,), timeout=max(seconds, 0.0))
    finally:
        if not task.done():
            task.cancel()
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
    if not done:
        raise TimeoutError
    return task.result()
