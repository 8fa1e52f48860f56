"""One LISTEN connection per process, fanned out to any number of subscribers.

Notifications can be lost while the connection is down, so subscribers also
get a call after every (re)connect and re-read the state they care about."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

log = logging.getLogger("htdag.listener")

CHANNELS = ("htdag_tasks", "htdag_cancel", "htdag_run", "htdag_events")
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
        self.connected = asyncio.Event()

    def subscribe(self, channels: str | tuple[str, ...], on_notify: Callback,
                  on_reconnect: Callable[[], None] | None = None) -> Subscription:
        names = frozenset((channels,) if isinstance(channels, str) else channels)
        unknown = names - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown channels {sorted(unknown)}; known: {CHANNELS}")
        sub = Subscription(names, on_notify, on_reconnect, self)
        self._subscriptions.add(sub)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="htdag-listener")
        return sub

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.connected.wait(), timeout)

    async def _run(self) -> None:
        delay = 0.05
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            except psycopg.OperationalError as exc:
                log.warning("listener cannot connect (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            try:
                async with conn:
                    for channel in CHANNELS:
                        await conn.execute(f"listen {channel}")
                    delay = 0.05
                    self.connected.set()
                    self._dispatch_reconnect()
                    async for note in conn.notifies():
                        self._dispatch(note.channel, note.payload)
            except psycopg.OperationalError as exc:
                log.warning("listener connection lost (%s); reconnecting", exc)
            finally:
                self.connected.clear()
            await asyncio.sleep(delay)

    def _dispatch(self, channel: str, payload: str) -> None:
        for sub in list(self._subscriptions):
            if channel in sub.channels:
                try:
                    sub.on_notify(channel, payload)
                except Exception:  # a subscriber's bug must not stop the others
                    log.exception("listener subscriber failed")

    def _dispatch_reconnect(self) -> None:
        for sub in list(self._subscriptions):
            if sub.on_reconnect is not None:
                try:
                    sub.on_reconnect()
                except Exception:
                    log.exception("listener subscriber failed on reconnect")

    async def close(self) -> None:
        self._subscriptions.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
