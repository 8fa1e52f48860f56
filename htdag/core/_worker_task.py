"""Running one claimed task: its handler is called (an async one in the worker's
loop, a sync one in a daemon thread) within the task's timeout, and what it
returns or raises becomes the attempt's outcome for the worker to report."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ._json import has_nul, nul_path
from ._threads import DaemonThreads
from .context import TaskContext, WaitForRun, context_parameter
from .definitions import Flow, HandlerFn
from .errors import NonRetryableError, TaskCancelled
from .status import ErrorCode
from .store import ClaimedTask, Completion, Failure

# What an attempt comes to; None when there is nothing to report (the worker
# cancelled it, or its run was cancelled): the database decides what follows.
Outcome = Completion | Failure | WaitForRun | None


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


class TaskRunner:
    """Runs attempts of tasks with a worker's handlers; sync handlers run in
    daemon threads (an abandoned one never keeps the process alive)."""

    def __init__(self, handlers: dict[str, HandlerFn], max_output_bytes: int) -> None:
        self.handlers = handlers
        self.max_output_bytes = max_output_bytes
        self._ctx_param = {name: context_parameter(fn) for name, fn in handlers.items()}
        self._is_async = {name: _is_async(fn) for name, fn in handlers.items()}
        self._threads = DaemonThreads()

    def close(self) -> None:
        """Lets the handler threads end (a busy one when its handler returns)."""
        self._threads.shutdown()

    async def outcome(self, task: ClaimedTask, ctx: TaskContext) -> Outcome:
        """Runs one attempt of ``task``. Whatever the handler raises is its
        failure, never the worker's: this returns for every exception. A
        completion or failure carries how long the handler ran (run_seconds)."""
        began = time.monotonic()
        outcome = await self._outcome(task, ctx)
        if isinstance(outcome, Completion | Failure):
            return replace(outcome, run_seconds=time.monotonic() - began)
        return outcome

    async def _outcome(self, task: ClaimedTask, ctx: TaskContext) -> Outcome:
        try:
            result = await self._call(task, ctx)
            return result if isinstance(result, WaitForRun) else self._completion(task, result)
        except asyncio.CancelledError as exc:
            # Our cancel (abandoned, shutting down): the database decides what happens.
            # One the handler raised itself is its failure like any other.
            current = asyncio.current_task()
            ours = current is not None and current.cancelling() > 0
            return None if ours else Failure(task.task_id, task.claim_token,
                                             describe(exc), True)
        except _TimedOut:
            return Failure(task.task_id, task.claim_token,
                           f"timed out after {task.timeout:g}s", True, ErrorCode.TIMED_OUT.value)
        except NonRetryableError as exc:
            return Failure(task.task_id, task.claim_token, describe(exc), False,
                           exc.error_code)
        except TaskCancelled:
            return None
        except BaseException as exc:  # noqa: BLE001 - whatever user code raises is its failure
            # SystemExit, KeyboardInterrupt and the like come from handler code here (the
            # worker's own signals are loop callbacks): a failed attempt, retried like any
            # error, never a reason for the worker to stop.
            return Failure(task.task_id, task.claim_token, describe(exc), True)

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


def describe(exc: BaseException) -> str:
    """``Type: message``; an exception whose str() fails is still named."""
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a handler's exception may break its own __str__
        text = "(its message could not be read)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
