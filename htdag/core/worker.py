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
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg

from ._json import has_nul, nul_path
from ._retry import backoff
from ._threads import DaemonThreads
from .context import SubgoalSubmitter, TaskContext, WaitForRun, context_parameter
from .definitions import Flow, HandlerFn
from .errors import HtdagError, NonRetryableError, TaskCancelled
from .store import ClaimedTask, Completion, Failure

if TYPE_CHECKING:
    from .engine import AsyncEngine

log = logging.getLogger("htdag.worker")

DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024
_TRANSIENT = (psycopg.OperationalError, psycopg.errors.DeadlockDetected,
              psycopg.errors.SerializationFailure)
_FAILED = object()  # what _rare_call returns after a transient error
# After the shutdown timeout, how long the shutdown's writes may still be retried.
SHUTDOWN_GRACE = 1.0
T = TypeVar("T")


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


class _TimedOut(Exception):
    """The task's timeout ran out (a TimeoutError the handler raises is its own error)."""


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
        subgoals: SubgoalSubmitter | None = None,
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
        self.subgoals = subgoals  # what plans the subgoals its tasks submit (a Planner)
        self._ctx_param = {name: context_parameter(fn) for name, fn in self.handlers.items()}
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
        self._stop_requested = asyncio.Event()
        self._threads = DaemonThreads()
        self._conn: psycopg.AsyncConnection[Any] | None = None  # see _exchange_conn
        self.tasks_completed = 0
        self.tasks_failed = 0

    # lifecycle -------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; finish running tasks (up to shutdown_timeout), release the rest."""
        self._stopping = True
        self._stop_requested.set()
        self._wakeup.set()

    async def run(self) -> None:
        """Runs until stop() is called (or the task running it is cancelled).

        After stop(), running tasks have shutdown_timeout to finish. The loop is cut
        off then even if a database call holds it (while the server is down a pool
        waits 30 s for a connection), and the shutdown's writes are retried until
        that deadline, or for SHUTDOWN_GRACE seconds after it: stop() to return
        takes at most shutdown_timeout plus a second or two."""
        serving = asyncio.create_task(self._serve(), name="htdag-worker-loop")
        try:
            await self._watch(serving)
            if serving.done() and not serving.cancelled():
                serving.result()  # the loop's own error, if it ended with one
        finally:
            if not serving.done():
                serving.cancel()
                await asyncio.wait((serving,), timeout=SHUTDOWN_GRACE)
            now = time.monotonic()
            await self._shutdown(max(self._stop_deadline or now, now + SHUTDOWN_GRACE))
            self._stopped.set()

    async def _serve(self) -> None:
        """Registers, listens, heartbeats and runs the main loop (run() watches it)."""
        await self._register()
        if self._stopping:
            return  # stopped before it could register: it holds nothing
        listener = self.engine.listener
        sub = listener.subscribe(("htdag_tasks", "htdag_push", "htdag_cancel"), self._on_notify,
                                 self._on_reconnect)
        try:
            # Claim only once cancellations can be heard (the poll still covers a slow
            # LISTEN); a stop() meanwhile ends the wait.
            connected = asyncio.ensure_future(listener.wait_connected(timeout=5))
            stopped = asyncio.ensure_future(self._stop_requested.wait())
            await asyncio.wait((connected, stopped), return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not connected.done():
                connected.cancel()
            elif not connected.cancelled():
                with contextlib.suppress(TimeoutError):
                    connected.result()
            heartbeat = asyncio.create_task(self._heartbeat_loop(), name="htdag-heartbeat")
            try:
                await self._main_loop()
            finally:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
        finally:
            sub.close()

    async def _register(self) -> None:
        delays = backoff(0.05, 2.0)
        while not self._stopping:
            try:
                await self.engine.store.register_worker(
                    self.worker_id, socket.gethostname(), os.getpid(), sorted(self.handlers),
                    self.concurrency, self.lease_seconds)
                return
            except _TRANSIENT as exc:
                delay = next(delays)
                log.warning("worker %s: cannot register (%s); retrying in %.2fs",
                            self.worker_id, exc, delay)
                await asyncio.sleep(delay)

    _stop_deadline: float | None = None  # set by _watch once stop() was called

    async def _watch(self, serving: asyncio.Task[None]) -> None:
        """Waits for the loop to end; after stop(), cuts it off at shutdown_timeout
        (it returns by itself then, unless a database call holds it)."""
        stop_requested = asyncio.create_task(self._stop_requested.wait())
        try:
            await asyncio.wait((serving, stop_requested), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_requested.cancel()
        while not serving.done():
            if self._stop_deadline is None:
                self._stop_deadline = time.monotonic() + self.shutdown_timeout
            left = self._stop_deadline - time.monotonic()
            if left <= 0:
                log.warning("worker %s: still busy with the database at the shutdown "
                            "timeout (%gs); cutting it off", self.worker_id,
                            self.shutdown_timeout)
                serving.cancel()
                await asyncio.wait((serving,), timeout=SHUTDOWN_GRACE)
                return
            await asyncio.wait((serving,), timeout=left)

    async def _main_loop(self) -> None:
        delays = backoff(0.05, 2.0)
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
                except asyncio.CancelledError:
                    # Cut off at the shutdown timeout (see run): _shutdown reports them.
                    self._done[:0], self._failed[:0] = done, failed
                    raise
                except _TRANSIENT as exc:
                    # Nothing was lost: the results go back in front of the buffer and are
                    # sent again (a repeat of a committed completion changes nothing).
                    await self._release_exchange_conn()
                    self._done[:0], self._failed[:0] = done, failed
                    delay = next(delays)
                    log.warning("worker %s: database call failed (%s); retrying in %.2fs",
                                self.worker_id, exc, delay)
                    await asyncio.sleep(delay)
                    continue
                except psycopg.Error as exc:
                    # The database refused something in the batch (say, a string JSON
                    # allows but PostgreSQL does not): find the culprit, keep the rest.
                    log.warning("worker %s: batch refused (%s); sending one at a time",
                                self.worker_id, exc)
                    await self._report_one_by_one(done, failed)
                    continue
                delays = backoff(0.05, 2.0)  # the next failure waits the shortest again
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

    async def _shutdown(self, deadline: float) -> None:
        """Gives back what this worker holds and marks it stopped. Each write is
        retried after transient errors (connections killed, a failover) until
        ``deadline``, and no try outlasts it (a pool alone may wait 30 s for a
        connection). What is not written by then is not lost: leases expire."""
        leftover = [r for r in self._running.values()]
        for r in leftover:
            r.abandoned = True
            r.ctx.cancelled.set()
            r.job.cancel()
        held = [(r.task.task_id, r.task.claim_token) for r in leftover] + self._give_back
        await self._release_exchange_conn()
        store = self.engine.store
        waits, done, failed = self._waits, self._done, self._failed
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        if waits:
            steps.append(("record waiting tasks", lambda: store.wait_for_runs(waits)))
        if done or failed:
            steps.append(("report results", lambda: store.exchange(
                self.worker_id, done, failed, 0, list(self.handlers), self.lease_seconds)))
        if held:
            steps.append(("release unfinished tasks", lambda: store.release_tasks(held)))
        steps.append(("mark the worker stopped", lambda: store.stop_worker(self.worker_id)))
        for what, call in steps:
            await self._write_before(deadline, what, call)
        self._running.clear()
        self._threads.shutdown()

    async def _write_before(self, deadline: float, what: str,
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
            except _TRANSIENT as exc:
                if time.monotonic() + delay < deadline:
                    log.info("worker %s: cannot %s at shutdown (%s); retrying", self.worker_id,
                             what, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.5)
                    continue
                problem = str(exc)
            except psycopg.Error as exc:
                problem = str(exc)
            log.error("worker %s: could not %s at shutdown (%s); the database will reclaim "
                      "its tasks when their leases expire", self.worker_id, what, problem)
            return

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
                          subgoals=self.subgoals,
                          loop=asyncio.get_running_loop())
        job = asyncio.get_running_loop().create_task(self._execute(task, ctx))
        self._running[task.task_id] = _Running(task, ctx, job)

    async def _execute(self, task: ClaimedTask, ctx: TaskContext) -> None:
        outcome: Completion | Failure | WaitForRun | None = None
        try:
            result = await self._call(task, ctx)
            outcome = result if isinstance(result, WaitForRun) else self._completion(task, result)
        except asyncio.CancelledError as exc:
            # Our cancel (abandoned, shutting down): the database decides what happens.
            # One the handler raised itself is its failure like any other.
            current = asyncio.current_task()
            ours = current is not None and current.cancelling() > 0
            outcome = None if ours else Failure(task.task_id, task.claim_token,
                                                _describe(exc), True)
        except _TimedOut:
            outcome = Failure(task.task_id, task.claim_token,
                              f"timed out after {task.timeout:g}s", True)
        except NonRetryableError as exc:
            outcome = Failure(task.task_id, task.claim_token, _describe(exc), False,
                              exc.error_code)
        except TaskCancelled:
            outcome = None
        except BaseException as exc:  # noqa: BLE001 - whatever user code raises is its failure
            # SystemExit, KeyboardInterrupt and the like come from handler code here (the
            # worker's own signals are loop callbacks): a failed attempt, retried like any
            # error, never a reason for the worker to stop.
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
        ctx_param = self._ctx_param[task.handler]
        kwargs = {ctx_param: ctx} if ctx_param else {}
        if self._is_async[task.handler]:
            # Awaited in this task (wait_for would wrap it in another one: a loop
            # iteration more on the way in and on the way out of every handler).
            deadline = asyncio.timeout(task.timeout)
            try:
                async with deadline:
                    return await fn(task.input, **kwargs)
            except TimeoutError:
                if deadline.expired():
                    raise _TimedOut from None
                raise  # the handler's own TimeoutError: an error like any other
        # A sync handler cannot be interrupted: on timeout its attempt is abandoned
        # (the thread runs on) and its late result is rejected by the claim token.
        future = asyncio.wrap_future(self._threads.submit(lambda: fn(task.input, **kwargs)))
        try:
            done, _ = await asyncio.wait((future,), timeout=task.timeout)
        finally:
            if not future.done():
                future.cancel()  # abandoned: a late outcome is dropped, never logged
        if not done:
            raise _TimedOut
        return future.result()

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
        if has_nul(text):
            at = nul_path(result) or "$"
            return Failure(task.task_id, task.claim_token,
                           f"handler {task.handler!r} returned a string with a NUL character "
                           f"(\\u0000) at {at}, which PostgreSQL cannot store in JSON; remove "
                           "it", False)
        return Completion(task.task_id, task.claim_token, text)


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


def _describe(exc: BaseException) -> str:
    """``Type: message``; an exception whose str() fails is still named."""
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a handler's exception may break its own __str__
        text = "(its message could not be read)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
