"""One LISTEN connection per process, fanned out to any number of subscribers.

The connection listens only on the channels somebody subscribed to: a worker
process is not woken by the event stream's notifications, which every
transition sends. Notifications can be lost while the connection is down (or
before a new channel is listened on), so subscribers also get a call after
every (re)connect and once their channels are heard, and re-read the state
they care about."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ._retry import backoff
from .db import RECONNECT_SECONDS

log = logging.getLogger("htdag.listener")

CHANNELS = ("htdag_tasks", "htdag_push", "htdag_cancel", "htdag_run", "htdag_events")
Callback = Callable[[str, str], None]  # (channel, payload)


@dataclass(eq=False)
class Subscription:
    channels: frozenset[str]
    on_notify: Callback
    on_reconnect: Callable[[], None] | None
    listener: Listener = field(repr=False)

    def close(self) -> None:
        self.listener._subscriptions.discard(self)


class Listener:
    def __init__(self, url: str) -> None:
        self.url = url
        self._subscriptions: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._listening: set[str] = set()  # channels the current connection listens on
        self._channels_changed = asyncio.Event()
        # Set while the connection is up and listens on every subscribed channel.
        self.connected = asyncio.Event()

    def subscribe(self, channels: str | tuple[str, ...], on_notify: Callback,
                  on_reconnect: Callable[[], None] | None = None) -> Subscription:
        names = frozenset((channels,) if isinstance(channels, str) else channels)
        unknown = names - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown channels {sorted(unknown)}; known: {CHANNELS}")
        sub = Subscription(names, on_notify, on_reconnect, self)
        self._subscriptions.add(sub)
        if not names <= self._listening:
            self.connected.clear()
            self._channels_changed.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="htdag-listener")
        return sub

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.connected.wait(), timeout)

    def _wanted(self) -> set[str]:
        return set().union(*(sub.channels for sub in self._subscriptions))

    async def _run(self) -> None:
        # At most as long between tries as the pool (a server back is heard within
        # that long); from the shortest again once a connection listens.
        delays = backoff(0.05, RECONNECT_SECONDS)
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
                async with conn:
                    self._listening = set()
                    while True:
                        await self._listen_wanted(conn)
                        delays = backoff(0.05, RECONNECT_SECONDS)
                        await self._read_until_channels_change(conn)
            except psycopg.OperationalError as exc:
                delay = next(delays)
                log.warning("listener connection failed (%s); reconnecting in %.2fs", exc, delay)
            finally:
                self.connected.clear()
                self._listening = set()
            await asyncio.sleep(delay)

    async def _listen_wanted(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """LISTENs on the channels subscribed since the last call, then tells their
        subscribers (all of them on a new connection) to re-read what they follow."""
        self._channels_changed.clear()
        first = not self._listening
        new = self._wanted() - self._listening
        for channel in sorted(new):
            await conn.execute(f"listen {channel}")
        self._listening |= new
        if self._wanted() <= self._listening:
            self.connected.set()
        if first or new:
            self._dispatch_reconnect(None if first else new)

    async def _read_until_channels_change(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Dispatches notifications until a subscription needs a new channel.
        Notifications arriving meanwhile wait in the connection's backlog."""

        async def read() -> None:
            async for note in conn.notifies():
                self._dispatch(note.channel, note.payload)

        reader = asyncio.create_task(read(), name="htdag-listener-read")
        changed = asyncio.create_task(self._channels_changed.wait())
        try:
            await asyncio.wait((reader, changed), return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            if not reader.done():
                reader.cancel()
                # asyncio.wait, not "await reader": the reader's CancelledError must not
                # be mistaken for (and swallow) a cancellation of this task by close().
                await asyncio.wait((reader,))
        if not reader.cancelled():
            reader.result()  # the connection's error, if it ended with one
            raise psycopg.OperationalError("the LISTEN connection stopped delivering")

    def _dispatch(self, channel: str, payload: str) -> None:
        for sub in list(self._subscriptions):
            if channel in sub.channels:
                try:
                    sub.on_notify(channel, payload)
                except Exception:  # a subscriber's bug must not stop the others
                    log.exception("listener subscriber failed")

    def _dispatch_reconnect(self, channels: set[str] | None) -> None:
        for sub in list(self._subscriptions):
            if sub.on_reconnect is not None and (channels is None or sub.channels & channels):
                try:
                    sub.on_reconnect()
                except Exception:
                    log.exception("listener subscriber failed on reconnect")

    async def close(self) -> None:
        self._subscriptions.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait((task,))  # a cancellation of close() itself still propagates
            if not task.cancelled() and task.exception() is not None:
                log.warning("listener ended with %r", task.exception())
