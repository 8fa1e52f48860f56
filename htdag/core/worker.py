"""The worker: claims tasks in batches, runs handlers in N slots, reports
results in batches (one round trip completes, fails and claims), keeps leases
alive, and stops gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from ._threads import DaemonThreads
from .context import TaskContext, WaitForRun
from .definitions import Flow, HandlerFn
from .errors import HtdagError, NonRetryableError, TaskCancelled
from .store import ClaimedTask, Completion, Failure

if TYPE_CHECKING:
    from .engine import AsyncEngine

log = logging.getLogger("htdag.worker")

DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")  # an escaped NUL, not an escaped backslash
_TRANSIENT = (psycopg.OperationalError, psycopg.errors.DeadlockDetected,
              psycopg.errors.SerializationFailure)
_FAILED = object()  # what _rare_call returns after a transient error


def collect_handlers(handlers: Mapping[str, HandlerFn] | Iterable[Flow | Mapping[str, HandlerFn]]
                     ) -> dict[str, HandlerFn]:
    """A name -> function map from a mapping, flows, or a mix of both."""
    if isinstance(handlers, Mapping):
        return dict(handlers)
    found: dict[str, HandlerFn] = {}
    for item in handlers:
        found.update(item.handlers if isinstance(item, Flow) else item)
    return found


def _is_async(fn: HandlerFn) -> bool:
    """An async function, or an object whose __call__ is one."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None))  # noqa: B004 - the method itself is inspected


def _takes_context(fn: HandlerFn) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


@dataclass
class _Running:
    task: ClaimedTask
    ctx: TaskContext
    job: asyncio.Task[None]
    abandoned: bool = False


class Worker:
    """Runs the handlers it has for tasks of any run in the database.

    ``concurrency`` slots run at once; sync handlers run in a thread pool.
    ``lease_seconds`` is how long a claimed task stays invisible to other
    workers without a heartbeat: a worker that dies loses its tasks after it.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        handlers: Mapping[str, HandlerFn] | Iterable[Flow | Mapping[str, HandlerFn]],
        *,
        concurrency: int = 10,
        lease_seconds: float = 30.0,
        poll_interval: float = 1.0,
        shutdown_timeout: float = 30.0,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        max_depth: int = 10,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if lease_seconds <= 0.1:
            raise ValueError("lease_seconds must be more than 0.1")
        self.engine = engine
        self.handlers = collect_handlers(handlers)
        if not self.handlers:
            raise HtdagError("a worker needs at least one handler: pass flows or a name -> "
                             "function mapping")
        self.worker_id = uuid.uuid4()
        self._origin = str(self.worker_id)
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.shutdown_timeout = shutdown_timeout
        self.max_output_bytes = max_output_bytes
        self.max_depth = max_depth
        self._takes_ctx = {name: _takes_context(fn) for name, fn in self.handlers.items()}
        self._is_async = {name: _is_async(fn) for name, fn in self.handlers.items()}
        self._running: dict[int, _Running] = {}
        self._done: list[Completion] = []
        self._failed: list[Failure] = []
        self._waits: list[tuple[int, uuid.UUID, uuid.UUID]] = []
        self._wakeup = asyncio.Event()
        self._check_leases = asyncio.Event()
        self._release_unheard = False
        self._give_back: list[tuple[int, uuid.UUID]] = []  # claimed beyond our slots
        self._pushes_seen = 0  # tasks pushed to us that we heard of
        self._want_claim = True
        self._notified = False
        self._stopping = False
        self._stopped = asyncio.Event()
        self._threads = DaemonThreads()
        self._conn: psycopg.AsyncConnection[Any] | None = None  # see _exchange_conn
        self.tasks_completed = 0
        self.tasks_failed = 0

    # lifecycle -------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; finish running tasks (up to shutdown_timeout), release the rest."""
        self._stopping = True
        self._wakeup.set()

    async def run(self) -> None:
        """Runs until stop() is called (or the task running it is cancelled)."""
        store = self.engine.store
        delay = 0.05
        while True:
            try:
                await store.register_worker(self.worker_id, socket.gethostname(), os.getpid(),
                                            sorted(self.handlers), self.concurrency,
                                            self.lease_seconds)
                break
            except _TRANSIENT as exc:
                log.warning("worker %s: cannot register (%s); retrying in %.2fs",
                            self.worker_id, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        listener = self.engine.listener
        sub = listener.subscribe(("htdag_tasks", "htdag_push", "htdag_cancel"), self._on_notify,
                                 self._on_reconnect)
        # Claim only once cancellations can be heard (the poll still covers a slow LISTEN).
        with contextlib.suppress(TimeoutError):
            await listener.wait_connected(timeout=5)
        heartbeat = asyncio.create_task(self._heartbeat_loop(), name="htdag-heartbeat")
        try:
            await self._main_loop()
        finally:
            sub.close()
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self._shutdown()
            self._stopped.set()

    async def _main_loop(self) -> None:
        delay = 0.05
        deadline: float | None = None
        while True:
            self._wakeup.clear()
            if self._stopping:
                deadline = deadline or time.monotonic() + self.shutdown_timeout
                if not (self._running or self._done or self._failed or self._waits):
                    return
                if time.monotonic() > deadline:
                    return
            if self._waits and not await self._flush_waits():
                continue
            if self._release_unheard and not await self._give_back_unheard():
                continue
            if self._give_back and not await self._flush_give_back():
                continue
            completions = bool(self._done or self._failed)
            free = self.concurrency - len(self._running)
            limit = free if (self._want_claim or completions) and not self._stopping else 0
            if completions or limit > 0:
                done, failed = self._done, self._failed
                self._done, self._failed = [], []
                self._notified = False
                try:
                    claimed = await self.engine.store.exchange(
                        self.worker_id, done, failed, limit, list(self.handlers),
                        self.lease_seconds, accept_pushes=True,
                        pushes_seen=self._pushes_seen, conn=await self._exchange_conn())
                except _TRANSIENT as exc:
                    # Nothing was lost: the results go back in front of the buffer and are
                    # sent again (a repeat of a committed completion changes nothing).
                    await self._release_exchange_conn()
                    self._done[:0], self._failed[:0] = done, failed
                    log.warning("worker %s: database call failed (%s); retrying in %.2fs",
                                self.worker_id, exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                except psycopg.Error as exc:
                    # The database refused something in the batch (say, a string JSON
                    # allows but PostgreSQL does not): find the culprit, keep the rest.
                    log.warning("worker %s: batch refused (%s); sending one at a time",
                                self.worker_id, exc)
                    await self._report_one_by_one(done, failed)
                    continue
                delay = 0.05
                self._take(claimed)
                # A NOTIFY that arrived during the exchange may be for tasks committed after
                # the claim's snapshot: keep it, or they would wait for the next poll.
                self._want_claim = (limit > 0 and len(claimed) == limit) or self._notified
                continue
            timeout = self.poll_interval if not self._stopping else 0.05
            try:
                async with asyncio.timeout(timeout):  # no extra task, unlike wait_for
                    await self._wakeup.wait()
            except TimeoutError:
                self._want_claim = True

    async def _exchange_conn(self) -> psycopg.AsyncConnection[Any]:
        """The connection this worker's exchanges use: kept out of the pool while the
        worker runs (a checkout and return per exchange cost about a quarter of the
        exchange's client time), given back after an error or at shutdown."""
        if self._conn is None:
            self._conn = await self.engine.db.pool.getconn()
        return self._conn

    async def _release_exchange_conn(self) -> None:
        """Gives the exchange connection back; the pool replaces it if it is broken."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # the pool may be closing: nothing to keep
                await self.engine.db.pool.putconn(conn)

    async def _rare_call(self, what: str, call: Awaitable[Any]) -> Any:
        """A call outside the exchange (rare): its result, or _FAILED after a
        transient error (logged; the caller keeps its buffer and the loop retries)."""
        try:
            return await call
        except _TRANSIENT as exc:
            log.warning("worker %s: cannot %s (%s); retrying", self.worker_id, what, exc)
            await asyncio.sleep(0.2)
            return _FAILED

    async def _flush_waits(self) -> bool:
        """Tasks whose handlers started child runs now wait for them."""
        waits, self._waits = self._waits, []
        if await self._rare_call("record waiting tasks",
                                 self.engine.store.wait_for_runs(waits)) is _FAILED:
            self._waits[:0] = waits
            return False
        return True

    async def _flush_give_back(self) -> bool:
        surplus, self._give_back = self._give_back, []
        if await self._rare_call("give back surplus tasks",
                                 self.engine.store.release_tasks(surplus)) is _FAILED:
            self._give_back[:0] = surplus
            return False
        return True

    async def _give_back_unheard(self) -> bool:
        """After the LISTEN connection came back: tasks pushed to us while it was down
        go back to the queue (rare: one call). Runs between exchanges, so every task
        we know of is running or buffered here."""
        self._release_unheard = False
        known = [*self._running, *(c.task_id for c in self._done),
                 *(f.task_id for f in self._failed), *(t for t, _, _ in self._waits),
                 *(t for t, _ in self._give_back)]
        released = await self._rare_call("give back unheard pushes",
                                         self.engine.store.release_unheard_tasks(
                                             self.worker_id, known, self._pushes_seen))
        if released is _FAILED:
            self._release_unheard = True
            return False
        if released:
            log.info("worker %s: gave back %d tasks pushed while not listening",
                     self.worker_id, len(released))
        return True

    async def _report_one_by_one(self, done: list[Completion], failed: list[Failure]) -> None:
        store = self.engine.store
        for completion in done:
            try:
                await store.complete_tasks([completion])
            except _TRANSIENT:
                self._done.append(completion)
            except psycopg.Error as exc:
                self._failed.append(Failure(
                    completion.task_id, completion.claim_token,
                    f"the database refused the handler's output: {str(exc).splitlines()[0]}",
                    False))
        for failure in failed:
            try:
                await store.fail_tasks([failure])
            except _TRANSIENT:
                self._failed.append(failure)
            except psycopg.Error as exc:
                log.error("worker %s: cannot record failure of task %s: %s",
                          self.worker_id, failure.task_id, exc)

    async def _shutdown(self) -> None:
        leftover = [r for r in self._running.values()]
        for r in leftover:
            r.abandoned = True
            r.ctx.cancelled.set()
            r.job.cancel()
        held = [(r.task.task_id, r.task.claim_token) for r in leftover] + self._give_back
        store = self.engine.store
        steps: list[tuple[str, Any]] = []
        if self._waits:
            steps.append(("record waiting tasks", store.wait_for_runs(self._waits)))
        if self._done or self._failed:
            steps.append(("report results", store.exchange(
                self.worker_id, self._done, self._failed, 0, list(self.handlers),
                self.lease_seconds)))
        if held:
            steps.append(("release unfinished tasks", store.release_tasks(held)))
        steps.append(("mark the worker stopped", store.stop_worker(self.worker_id)))
        for what, call in steps:
            try:
                await call
            except psycopg.Error as exc:  # leases expire, so nothing is lost; say so
                log.error("worker %s: could not %s at shutdown (%s); the database will "
                          "reclaim its tasks when their leases expire", self.worker_id, what, exc)
        self._running.clear()
        await self._release_exchange_conn()
        self._threads.shutdown()

    # notifications -----------------------------------------------------------

    def _on_notify(self, channel: str, payload: str) -> None:
        if channel == "htdag_tasks":
            if payload == self._origin:
                return  # tasks our own exchange made ready: its claim already took them
            self._want_claim = self._notified = True
            self._wakeup.set()
        elif channel == "htdag_push":
            self._on_push(payload)
        elif channel == "htdag_cancel":
            for r in list(self._running.values()):
                if str(r.task.run_id) == payload:
                    self._abandon(r, "its run was cancelled")

    def _on_push(self, payload: str) -> None:
        """Tasks claimed for this worker by the transaction that made them ready."""
        if self._origin not in payload:
            return  # pushed to another worker: not worth parsing
        try:
            pushed = json.loads(payload)
            if pushed["worker_id"] != self._origin:
                return
            tasks = [ClaimedTask.from_json(row) for row in pushed["tasks"]]
        except (ValueError, KeyError, TypeError):
            log.exception("worker %s: unreadable push %.200s", self.worker_id, payload)
            return
        self._pushes_seen += len(tasks)
        if self._stopping:
            return  # stop_worker gives them back
        self._take(task for task in tasks if task.task_id not in self._running)

    def _on_reconnect(self) -> None:
        # Notifications sent while the listener was down are lost: claim, ask the
        # database which running tasks are still ours (a cancellation may have been
        # missed), and give back tasks pushed to us meanwhile.
        self._want_claim = True
        self._wakeup.set()
        self._release_unheard = True
        self._check_leases.set()

    def _abandon(self, r: _Running, why: str) -> None:
        """Stops caring about a task the database no longer gives us: nothing is reported."""
        log.info("worker %s: abandoning %s[%s] of run %s: %s", self.worker_id,
                 r.task.step_name, r.task.task_index, r.task.run_id, why)
        r.abandoned = True
        r.ctx.cancelled.set()
        r.job.cancel()
        self._running.pop(r.task.task_id, None)
        self._wakeup.set()

    async def _heartbeat_loop(self) -> None:
        interval = self.lease_seconds / 3
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):  # keeps a cancellation, unlike wait_for
                    await self._check_leases.wait()
            self._check_leases.clear()
            held = [(r.task.task_id, r.task.claim_token) for r in self._running.values()]
            try:
                kept = await self.engine.store.extend_leases(self.worker_id, held,
                                                             self.lease_seconds)
            except psycopg.Error as exc:
                log.warning("worker %s: heartbeat failed (%s)", self.worker_id, exc)
                continue
            for task_id, _ in held:
                r = self._running.get(task_id)
                if r is not None and task_id not in kept:
                    self._abandon(r, "its lease was lost")

    # running handlers ---------------------------------------------------------

    def _take(self, tasks: Iterable[ClaimedTask]) -> None:
        """Starts claimed or pushed tasks while slots are free; gives back the rest. A
        push and an exchange claimed before it was heard can together exceed the
        slots: concurrency is a promise, so the surplus goes back to the queue."""
        for task in tasks:
            if len(self._running) < self.concurrency:
                self._start(task)
            else:
                self._give_back.append((task.task_id, task.claim_token))
                self._wakeup.set()

    def _start(self, task: ClaimedTask) -> None:
        ctx = TaskContext(run_id=task.run_id, step=task.step_name, task_index=task.task_index,
                          attempt=task.attempt, task_id=task.task_id, engine=self.engine,
                          logger=log.getChild(task.handler), max_depth=self.max_depth,
                          loop=asyncio.get_running_loop())
        job = asyncio.get_running_loop().create_task(self._execute(task, ctx))
        self._running[task.task_id] = _Running(task, ctx, job)

    async def _execute(self, task: ClaimedTask, ctx: TaskContext) -> None:
        outcome: Completion | Failure | WaitForRun | None = None
        try:
            result = await self._call(task, ctx)
            outcome = result if isinstance(result, WaitForRun) else self._completion(task, result)
        except asyncio.CancelledError:
            outcome = None  # abandoned or shutting down: the database decides what happens
        except TimeoutError:
            outcome = Failure(task.task_id, task.claim_token,
                              f"timed out after {task.timeout:g}s", True)
        except NonRetryableError as exc:
            outcome = Failure(task.task_id, task.claim_token, _describe(exc), False)
        except TaskCancelled:
            outcome = None
        except Exception as exc:  # noqa: BLE001 - any handler error is a failed attempt
            outcome = Failure(task.task_id, task.claim_token, _describe(exc), True)
        finally:
            r = self._running.get(task.task_id)
            if r is not None and not r.abandoned:
                del self._running[task.task_id]
                if outcome is not None:
                    if isinstance(outcome, WaitForRun):
                        self._waits.append((task.task_id, task.claim_token, outcome.run_id))
                    elif isinstance(outcome, Completion):
                        self._done.append(outcome)
                        self.tasks_completed += 1
                    else:
                        self._failed.append(outcome)
                        self.tasks_failed += 1
                self._wakeup.set()

    async def _call(self, task: ClaimedTask, ctx: TaskContext) -> Any:
        fn = self.handlers.get(task.handler)
        if fn is None:
            raise NonRetryableError(f"this worker has no handler {task.handler!r}")
        args = (task.input, ctx) if self._takes_ctx[task.handler] else (task.input,)
        if self._is_async[task.handler]:
            # Awaited in this task (wait_for would wrap it in another one: a loop
            # iteration more on the way in and on the way out of every handler).
            async with asyncio.timeout(task.timeout):
                return await fn(*args)
        # A sync handler cannot be interrupted: on timeout its attempt is abandoned
        # (the thread runs on) and its late result is rejected by the claim token.
        future = asyncio.wrap_future(self._threads.submit(lambda: fn(*args)))
        return await asyncio.wait_for(future, task.timeout)

    def _completion(self, task: ClaimedTask, result: Any) -> Completion | Failure:
        try:
            text = json.dumps(result, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            return Failure(task.task_id, task.claim_token,
                           f"handler {task.handler!r} returned a value that is not JSON "
                           f"({type(result).__name__}: {exc}); return dicts, lists, strings, "
                           "numbers, booleans or None", False)
        if len(text) > self.max_output_bytes:
            return Failure(task.task_id, task.claim_token,
                           f"handler {task.handler!r} returned {len(text) / 1e6:.1f} MB of JSON, "
                           f"over the limit of {self.max_output_bytes / 1e6:.1f} MB; store large "
                           "data elsewhere and return a reference", False)
        if "\\u0000" in text and _NUL_ESCAPE.search(text):
            return Failure(task.task_id, task.claim_token,
                           f"handler {task.handler!r} returned a string with a NUL character "
                           "(\\u0000), which PostgreSQL cannot store in JSON; remove it", False)
        return Completion(task.task_id, task.claim_token, text)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
