"""The sync API runs the async one on a private event loop in a daemon thread.
That also works where an event loop is already running (Jupyter).

The loop survives whatever user code raises (see _loop). Should it stop all the
same, every call waiting on it fails at once with EventLoopStopped, and so does
every later call: a sync call never hangs on a loop that is gone."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from . import _loop
from .errors import EventLoopStopped, HtdagError

T = TypeVar("T")


class Portal:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._stopped: str | None = None
        self._thread = threading.Thread(target=self._serve, name="htdag-loop", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._stopped is None

    def _serve(self) -> None:
        why = "it was stopped"
        try:
            _loop.run_forever(self.loop)
        except BaseException as exc:  # noqa: BLE001 - reported to every waiting caller
            why = f"it died of {type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                self._stopped = why
                pending, self._pending = self._pending, set()
            for future in pending:
                if not future.done():
                    try:
                        future.set_exception(self._error())
                    except concurrent.futures.InvalidStateError:
                        pass  # finished meanwhile: its caller has its result

    def _error(self) -> EventLoopStopped:
        return EventLoopStopped(
            f"htdag's event loop thread has stopped ({self._stopped}), so sync htdag calls "
            "cannot run in this process: restart it (in Jupyter, restart the kernel)")

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise HtdagError("a sync htdag call was made on htdag's own event loop "
                             "(inside an async handler?): use the async API there")
        return self.submit(coro).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedules ``coro`` without waiting; its future fails if the loop stops."""
        with self._lock:
            if self._stopped is not None:
                coro.close()
                raise self._error()
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)


_portal: Portal | None = None
_lock = threading.Lock()


def portal() -> Portal:
    global _portal
    with _lock:
        if _portal is None:
            _portal = Portal()
        return _portal
