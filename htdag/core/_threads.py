"""Daemon threads for sync handlers.

concurrent.futures' pool joins its threads at interpreter exit, so a sync
handler abandoned after a timeout or at shutdown would keep the process alive.
These threads are daemons, and a new one starts whenever none is idle, so an
abandoned handler never takes a slot from the tasks that follow it."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

_Job = tuple[Future[Any], Callable[[], Any]]


class DaemonThreads:
    def __init__(self, name: str = "htdag-handler") -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._count = 0
        self._closed = False

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the handler threads are shut down")
            if self._idle == 0:
                self._count += 1
                threading.Thread(target=self._serve, name=f"{self._name}-{self._count}",
                                 daemon=True).start()
            else:
                self._idle -= 1
        self._jobs.put((future, fn))
        return future

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                    future.set_exception(exc)
            with self._lock:
                if self._closed:
                    return
                self._idle += 1

    def shutdown(self) -> None:
        """Idle threads exit; busy (abandoned) ones exit when their handler returns."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._jobs.put(None)
