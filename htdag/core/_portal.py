"""The sync API runs the async one on a private event loop in a daemon thread.
That also works where an event loop is already running (Jupyter)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .errors import HtdagError

T = TypeVar("T")


class Portal:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="htdag-loop",
                                        daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise HtdagError("a sync htdag call was made on htdag's own event loop "
                             "(inside an async handler?): use the async API there")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


_portal: Portal | None = None
_lock = threading.Lock()


def portal() -> Portal:
    global _portal
    with _lock:
        if _portal is None:
            _portal = Portal()
        return _portal
