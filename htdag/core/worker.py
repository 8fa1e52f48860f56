"""The worker: claims tasks in batches, runs handlers in N slots, reports
results in batches (one round trip completes, fails and claims), keeps leases
alive, and stops gracefully.

``Worker`` is the public face and holds the lifecycle, the notifications and
the leases; the exchange loop and the slots are in ``_worker_exchange``,
running one task in ``_worker_task``, the shutdown's writes in
``_worker_shutdown``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import psycopg

from ._retry import backoff
from ._worker_exchange import TRANSIENT, ExchangeLoop, Running, log
from ._worker_shutdown import give_back_and_stop
from ._worker_task import TaskRunner, collect_handlers
from .context import SubgoalSubmitter
from .definitions import Flow, HandlerFn
from .errors import HtdagError
from .store import ClaimedTask

if TYPE_CHECKING:
    from .engine import AsyncEngine

__all__ = ["DEFAULT_MAX_OUTPUT_BYTES", "SHUTDOWN_GRACE", "Worker", "collect_handlers"]

DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024
# After the shutdown timeout, how long the shutdown's writes may still be retried.
SHUTDOWN_GRACE = 1.0


class Worker(ExchangeLoop):
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
        found = collect_handlers(handlers)
        if not found:
            raise HtdagError("a worker needs at least one handler: pass flows or a name -> "
                             "function mapping")
        super().__init__(engine, TaskRunner(found, max_output_bytes), concurrency=concurrency,
                         lease_seconds=lease_seconds, poll_interval=poll_interval,
                         shutdown_timeout=shutdown_timeout, max_depth=max_depth,
                         subgoals=subgoals)
        self.max_output_bytes = max_output_bytes
        self._check_leases = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stop_requested = asyncio.Event()

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
            except TRANSIENT as exc:
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

    async def _shutdown(self, deadline: float) -> None:
        """Gives back what this worker holds and marks it stopped, trying until
        ``deadline`` (see give_back_and_stop)."""
        leftover = [r for r in self._running.values()]
        for r in leftover:
            r.abandon()
        held = [(r.task.task_id, r.task.claim_token) for r in leftover] + self._give_back
        await self._release_exchange_conn()
        await give_back_and_stop(self.engine.store, self.worker_id, deadline, waits=self._waits,
                                 done=self._done, failed=self._failed, held=held,
                                 handlers=list(self.handlers), lease_seconds=self.lease_seconds)
        self._running.clear()
        self._runner.close()

    def _on_notify(self, channel: str, payload: str) -> None:
        if channel == "htdag_tasks":
            if payload == self._origin:
                return  # tasks our own exchange made ready: its claim already took them
            self._want_claim = self._notified = True
            self._wakeup.set()
        elif channel == "htdag_push":
            self._on_push(payload)
        elif channel == "htdag_cancel":
            if payload.startswith("task:"):  # task:<id>:<winner's token>: a hedged task
                _, task_id, token = [*payload.split(":", 2), "", ""][:3]
                r = self._running.get(int(task_id)) if task_id.isdigit() else None
                if r is not None and str(r.task.claim_token) != token:
                    self._abandon(r, "the other execution of this hedged task finished first")
                return
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

    def _abandon(self, r: Running, why: str) -> None:
        """Stops caring about a task the database no longer gives us: nothing is reported."""
        log.info("worker %s: abandoning %s[%s] of run %s: %s", self.worker_id,
                 r.task.step_name, r.task.task_index, r.task.run_id, why)
        r.abandon()
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
            finally:
                _end_if_cancelled()
            for task_id, _ in held:
                r = self._running.get(task_id)
                if r is not None and task_id not in kept:
                    self._abandon(r, "its lease was lost")


def _end_if_cancelled() -> None:
    """Ends the current task if it was cancelled while it waited for the database:
    a pool handing over a connection at the moment of the cancellation can take
    it in (asyncio.wait_for in Python 3.11 returns the result and drops the
    cancellation), and the heartbeat, stopped by cancel(), would then wait out
    its interval before the worker could stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
