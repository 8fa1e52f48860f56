"""An event loop that user code cannot stop by raising.

asyncio lets ``SystemExit`` and ``KeyboardInterrupt`` (and nothing else) escape a
task or callback out of ``run_forever``: a handler's stray background task that
calls ``sys.exit()`` would stop the worker's loop and, through its shutdown, hand
the handler's attempt back. The worker turns whatever a handler raises into a
failed attempt; this covers what escapes even so (a task the handler spawned)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger("htdag.loop")
T = TypeVar("T")


def run_forever(loop: asyncio.AbstractEventLoop) -> None:
    """Runs ``loop`` until ``loop.stop()``; an exception that escapes a task or a
    callback is logged and the loop goes on."""
    while True:
        try:
            loop.run_forever()
            return
        except BaseException as exc:  # user code's, never a reason to stop
            log.error("htdag's event loop caught %s from a task or callback; it goes on",
                      type(exc).__name__, exc_info=exc)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Like ``asyncio.run``, on a loop that survives what escapes user code (see
    module docstring): runs ``main`` to its end, then cancels what is left.

    A real Ctrl-C (SIGINT) cancels ``main`` and raises KeyboardInterrupt here, as
    asyncio.run does; ``main`` may install its own handler instead (the worker
    stops gracefully). Either way, a KeyboardInterrupt that reaches the loop came
    from user code, not from the terminal."""
    loop = asyncio.new_event_loop()
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        task.cancel()

    try:
        asyncio.set_event_loop(loop)
        task = loop.create_task(main)
        task.add_done_callback(lambda _: loop.stop())
        with contextlib.suppress(ValueError, NotImplementedError):  # not the main thread
            loop.add_signal_handler(signal.SIGINT, interrupt)
        run_forever(loop)
        _cancel_remaining(loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        try:
            return task.result()
        except asyncio.CancelledError:
            if interrupted:
                raise KeyboardInterrupt from None
            raise
    finally:
        with contextlib.suppress(ValueError, NotImplementedError):
            loop.remove_signal_handler(signal.SIGINT)
        asyncio.set_event_loop(None)
        loop.close()


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    remaining = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in remaining:
        t.cancel()
    if remaining:
        loop.run_until_complete(asyncio.gather(*remaining, return_exceptions=True))
