"""A worker's slots and its exchange loop: one round trip reports the results
buffered since the last one and claims tasks for the free slots. The rare
writes outside the exchange (tasks now waiting for child runs, surplus tasks
given back) go between exchanges; a batch the database refuses is reported one
task at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg

from ._retry import backoff
from ._worker_task import Outcome, TaskRunner
from .context import SubgoalSubmitter, TaskContext, WaitForRun
from .store import ClaimedTask, Completion, Failure

if TYPE_CHECKING:
    from .engine import AsyncEngine

log = logging.getLogger("htdag.worker")

TRANSIENT = (psycopg.OperationalError, psycopg.errors.DeadlockDetected,
             psycopg.errors.SerializationFailure)
_FAILED = object()  # what _rare_call returns after a transient error
T = TypeVar("T")


@dataclass
class Running:
    """A task in one of the worker's slots."""

    task: ClaimedTask
    ctx: TaskContext
    job: asyncio.Task[None]
    abandoned: bool = False
    straggling: asyncio.TimerHandle | None = None  # asks for a hedge once hedge_after is past
    twin: asyncio.Task[None] | None = None  # its hedged execution in another of our slots

    def abandon(self) -> None:
        """Cancels the attempt; nothing of it will be reported."""
        self.abandoned = True
        self.ctx.cancelled.set()
        self.job.cancel()
        self.stop_timer()
        self.stop_twin()

    def stop_twin(self) -> None:
        twin, self.twin = self.twin, None
        if twin is not None:
            twin.cancel()

    def stop_timer(self) -> None:
        if self.straggling is not None:
            self.straggling.cancel()


class ExchangeLoop:
    """The worker's tasks and results between exchanges, and the loop that trades
    results for claims (``Worker`` adds its lifecycle, notifications and leases)."""

    def __init__(self, engine: AsyncEngine, runner: TaskRunner, *, concurrency: int,
                 lease_seconds: float, poll_interval: float, shutdown_timeout: float,
                 max_depth: int, subgoals: SubgoalSubmitter | None) -> None:
        self.engine = engine
        self.handlers = runner.handlers
        self.worker_id = uuid.uuid4()
        self._origin = str(self.worker_id)
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.shutdown_timeout = shutdown_timeout
        self.max_depth = max_depth
        self.subgoals = subgoals  # what plans the subgoals its tasks submit (a Planner)
        self._runner = runner
        self._running: dict[int, Running] = {}
        self._side_jobs: set[asyncio.Future[Any]] = set()  # hedge requests of stragglers
        self._twins = 0  # slots taken by hedged executions of our own stragglers (Running.twin)
        self._done: list[Completion] = []
        self._failed: list[Failure] = []
        self._waits: list[tuple[int, uuid.UUID, uuid.UUID]] = []
        self._wakeup = asyncio.Event()
        self._release_unheard = False
        self._give_back: list[tuple[int, uuid.UUID]] = []  # claimed beyond our slots
        self._pushes_seen = 0  # tasks pushed to us that we heard of
        self._want_claim = True
        self._notified = False
        self._stopping = False
        self._conn: psycopg.AsyncConnection[Any] | None = None  # see _exchange_conn
        self.tasks_completed = 0
        self.tasks_failed = 0

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
            # Tasks whose handlers started child runs now wait for them.
            if self._waits and not await self._flush("record waiting tasks", self._waits,
                                                     self.engine.store.wait_for_runs):
                continue
            if self._release_unheard and not await self._give_back_unheard():
                continue
            if self._give_back and not await self._flush("give back surplus tasks",
                                                         self._give_back,
                                                         self.engine.store.release_tasks):
                continue
            completions = bool(self._done or self._failed)
            free = self.concurrency - self._busy()
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
                except TRANSIENT as exc:
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
        except TRANSIENT as exc:
            log.warning("worker %s: cannot %s (%s); retrying", self.worker_id, what, exc)
            await asyncio.sleep(0.2)
            return _FAILED

    async def _flush(self, what: str, buffer: list[T],
                     write: Callable[[list[T]], Awaitable[Any]]) -> bool:
        """Empties ``buffer`` with one ``write``; after a transient error its items go
        back in front of it (the loop tries again)."""
        items = buffer.copy()
        buffer.clear()
        if await self._rare_call(what, write(items)) is _FAILED:
            buffer[:0] = items
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
            except TRANSIENT:
                self._done.append(completion)
            except psycopg.Error as exc:
                self._failed.append(Failure(
                    completion.task_id, completion.claim_token,
                    f"the database refused the handler's output: {str(exc).splitlines()[0]}",
                    False))
        for failure in failed:
            try:
                await store.fail_tasks([failure])
            except TRANSIENT:
                self._failed.append(failure)
            except psycopg.Error as exc:
                log.error("worker %s: cannot record failure of task %s: %s",
                          self.worker_id, failure.task_id, exc)

    def _take(self, tasks: Iterable[ClaimedTask]) -> None:
        """Starts claimed or pushed tasks while slots are free; gives back the rest. A
        push and an exchange claimed before it was heard can together exceed the
        slots: concurrency is a promise, so the surplus goes back to the queue."""
        for task in tasks:
            if self._busy() < self.concurrency:
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
        loop = asyncio.get_running_loop()
        job = loop.create_task(self._execute(task, ctx))
        running = self._running[task.task_id] = Running(task, ctx, job)
        if task.hedge_after is not None:
            running.straggling = loop.call_later(task.hedge_after, self._straggling, running)

    def _busy(self) -> int:
        """Slots taken: tasks running, and hedged executions of our stragglers."""
        return len(self._running) + self._twins

    def _background(self, call: Awaitable[T]) -> asyncio.Future[T]:
        """Runs ``call`` beside the loop (a reference is kept until it ends; what it
        raises is logged)."""
        job = asyncio.ensure_future(call)
        self._side_jobs.add(job)
        job.add_done_callback(self._side_job_done)
        return job

    def _side_job_done(self, job: asyncio.Future[Any]) -> None:
        self._side_jobs.discard(job)
        if not job.cancelled() and job.exception() is not None:
            log.warning("worker %s: %s", self.worker_id, job.exception())

    def _straggling(self, running: Running) -> None:
        """A task of a hedged step still runs past hedge_after: its second execution
        starts in a free slot of ours at once (no round trip before it, as a client's
        backup request), else is pushed to an idle worker, else workers are woken to
        claim it (none polls that often)."""
        task = running.task
        if self._running.get(task.task_id) is not running:
            return
        if not self._stopping and self._busy() < self.concurrency:
            running.twin = asyncio.get_running_loop().create_task(self._run_twin(running))
        else:
            self._background(self._ask_for_hedge(task, here=False))

    async def _ask_for_hedge(self, task: ClaimedTask, here: bool) -> uuid.UUID | None:
        """hedge_straggler: the hedge token given, or None (also when the database
        cannot be reached: the first execution simply goes on alone)."""
        try:
            return await self.engine.store.hedge_straggler(task.task_id, task.claim_token, here)
        except psycopg.Error as exc:
            log.warning("worker %s: cannot hedge task %s (%s)", self.worker_id, task.task_id, exc)
            return None

    async def _run_twin(self, r: Running) -> None:
        """The hedged execution of ``r`` in a slot of ours, started while the
        database gives it a hedge token and stopped if it refuses (budget spent,
        hedged elsewhere, finished). The first of the two executions to finish is
        reported, with its own token; the other is stopped."""
        task = r.task
        grant = self._background(self._ask_for_hedge(task, here=True))
        execution = asyncio.ensure_future(self._runner.outcome(replace(task, hedge_after=None),
                                                               r.ctx))
        self._twins += 1
        try:
            await asyncio.wait((grant, execution), return_when=asyncio.FIRST_COMPLETED)
            if grant.done() and grant.result() is None:
                return  # refused: the first execution goes on alone
            outcome = await execution
            token = await asyncio.shield(grant)
        finally:
            execution.cancel()
            self._twins -= 1
            self._wakeup.set()  # a slot is free
        if (token is None or not isinstance(outcome, Completion | Failure)
                or self._running.get(task.task_id) is not r or r.abandoned):
            return
        r.twin = None  # the winner: the first execution is stopped, never reported
        r.abandon()
        del self._running[task.task_id]
        self._record(replace(outcome, claim_token=token))

    async def _execute(self, task: ClaimedTask, ctx: TaskContext) -> None:
        """Runs the task in its slot; its outcome waits in a buffer for the next
        exchange, unless the task was abandoned meanwhile."""
        outcome: Outcome = None
        try:
            outcome = await self._runner.outcome(task, ctx)
        finally:
            r = self._running.get(task.task_id)
            if r is not None:
                r.stop_timer()
            if r is not None and not r.abandoned:
                r.stop_twin()  # the first execution came first: its hedge is stopped
                del self._running[task.task_id]
                if isinstance(outcome, WaitForRun):
                    self._waits.append((task.task_id, task.claim_token, outcome.run_id))
                elif outcome is not None:
                    self._record(outcome)
                self._wakeup.set()

    def _record(self, outcome: Completion | Failure) -> None:
        """Buffers an attempt's outcome for the next exchange."""
        if isinstance(outcome, Completion):
            self._done.append(outcome)
            self.tasks_completed += 1
        else:
            self._failed.append(outcome)
            self.tasks_failed += 1
        self._wakeup.set()
