"""A run's picture that updates itself in a notebook while the run goes on.

:func:`awatch` follows the run tree's events (``alisten(..., until_done=True)``)
and redraws at most every ``interval`` seconds while events arrive; it returns
the final picture when the run ends. :func:`watch` is its sync form for a
notebook cell: the watching runs on htdag's private loop, and the display
calls are made in the caller's thread, where Jupyter expects them."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable
from typing import Any, Protocol

from ..core._portal import portal
from ..core.engine import AsyncEngine, RunId
from ..core.sync import Engine
from ..notifications.stream import alisten
from .picture import Picture
from .runs import arun_picture


class DisplayHandle(Protocol):
    """What :func:`awatch` updates: IPython's DisplayHandle has this method."""

    def update(self, obj: Any) -> None: ...


Show = Callable[[Picture], DisplayHandle]  # displays a first picture, returns its handle


def ipython_display(picture: Picture) -> DisplayHandle:
    """Displays ``picture`` in the notebook and returns the handle that updates it
    (outside IPython, display prints the picture's repr instead)."""
    from IPython.display import DisplayHandle as IPythonHandle

    handle = IPythonHandle()  # type: ignore[no-untyped-call]
    handle.display(picture)  # type: ignore[no-untyped-call]
    return handle


async def awatch(engine: AsyncEngine, run_id: RunId, *, interval: float = 0.5,
                 show: Show | None = None) -> Picture:
    """Displays the run's picture and updates it as the run's events arrive;
    returns the last picture once the run has finished."""
    display = show or ipython_display
    handle = display(await arun_picture(engine, run_id))
    changed = asyncio.Event()

    async def follow() -> None:
        async for _event in alisten(engine, run_id, until_done=True):
            changed.set()

    follower = asyncio.create_task(follow(), name="htdag-watch")
    try:
        while not follower.done():
            await asyncio.wait({follower}, timeout=interval)
            if changed.is_set() and not follower.done():
                changed.clear()
                handle.update(await arun_picture(engine, run_id))
        follower.result()  # an error of the stream is the caller's
    finally:
        follower.cancel()
    final = await arun_picture(engine, run_id)
    handle.update(final)
    return final


class _Relay:
    """Hands display calls from htdag's loop to the thread that called :func:`watch`."""

    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[str, Picture]] = queue.Queue()

    def show(self, picture: Picture) -> DisplayHandle:
        self.calls.put(("show", picture))
        return self

    def update(self, obj: Any) -> None:
        self.calls.put(("update", obj))


def watch(engine: Engine, run_id: RunId, *, interval: float = 0.5,
          show: Show | None = None) -> Picture:
    """The sync form of :func:`awatch`, for a notebook cell (whose event loop is
    running): returns the final picture when the run has finished."""
    display = show or ipython_display
    relay = _Relay()
    future = portal().submit(awatch(engine.aio, run_id, interval=interval, show=relay.show))
    handle: DisplayHandle | None = None
    try:
        while True:
            try:
                kind, picture = relay.calls.get(timeout=0.05)
            except queue.Empty:
                if future.done():
                    break
                continue
            if kind == "show" or handle is None:
                handle = display(picture)
            else:
                handle.update(picture)
    except BaseException:  # an interrupted cell stops the watching too
        future.cancel()
        raise
    return future.result()
