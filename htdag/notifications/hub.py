"""One reader of the event table per engine, fanned out to any number of
listeners: a thousand listeners share one LISTEN connection and one query per
wake-up. The stream is gap-free because it is read from the table by position,
never from NOTIFY payloads: a notification only says "read now"."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import weakref
from dataclasses import dataclass, field

import psycopg
from psycopg_pool import PoolClosed

from ..core.engine import AsyncEngine
from .events import Event

log = logging.getLogger("htdag.events")

Position = tuple[int, int]
BATCH = 1000


@dataclass(eq=False)
class Subscriber:
    """A listener's queue of events of one root run (or all), in order."""

    root_run_id: uuid.UUID | None
    max_pending: int
    start: Position = (0, 0)  # it gets only events after this position
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)  # None: ended
    overflowed: bool = False

    def offer(self, event: Event) -> None:
        if self.overflowed or event.position <= self.start:
            return
        if self.root_run_id is not None and event.root_run_id != self.root_run_id:
            return
        if self.queue.qsize() >= self.max_pending:
            # A slow listener: stop queueing; it re-reads what it missed from the table.
            self.overflowed = True
            return
        self.queue.put_nowait(event)


class EventHub:
    poll_interval = 1.0
    # An announced event that is not readable yet (see _run) is looked for again after
    # first_recheck_delay, then after twice as long each time up to max_recheck_delay,
    # for recheck_for seconds (counted again from each later announcement); then only
    # the poll and notifications wake the reader.
    first_recheck_delay = 0.002
    max_recheck_delay = 0.01
    recheck_for = 1.0

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.head: Position = (0, 0)
        self._subscribers: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self._awaited_id = 0  # the last event id a notification announced
        self._seen_id = 0  # the highest event id read so far
        self._task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()

    async def add(self, sub: Subscriber) -> Position:
        """Registers a subscriber; returns the position after which it gets events."""
        async with self._start_lock:
            if self._task is None or self._task.done():
                self.engine.listener.subscribe("htdag_events", self._on_notify, self._wake.set)
                self._task = asyncio.get_running_loop().create_task(
                    self._run(), name="htdag-event-hub")
            if not self._subscribers:
                # Nobody listened, so the head may be old: start from the present.
                self.head = max(self.head, await self.engine.store.stable_head())
        sub.start = self.head
        self._subscribers.add(sub)
        # Read once now: the reader may be waiting without a timeout (it had nobody to
        # read for), and an event committed after the head was taken but before the
        # LISTEN connection was up is announced by no notification.
        self._wake.set()
        return sub.start

    def remove(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    def _on_notify(self, channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self._awaited_id = max(self._awaited_id, int(payload.split(":", 1)[0]))
        if self._subscribers:
            self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        recheck: float | None = None  # the wait before looking again, while one is due
        rechecking_since = 0.0
        rechecking_for = 0  # the announced event id looked for
        while True:
            if recheck is not None:
                timeout: float | None = recheck
            else:
                timeout = self.poll_interval if self._subscribers else None
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives as the wake-up does, and close() would wait
            # for this loop for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            self._wake.clear()
            if not self._subscribers:
                recheck = None
                continue
            try:
                await self._read_all()
            except PoolClosed:
                # The engine was closed: end the streams instead of retrying for ever.
                self._end_subscribers()
                return
            except psycopg.OperationalError as exc:
                log.warning("event reader: %s; retrying", exc)
                await asyncio.sleep(0.2)
                self._wake.set()
                continue
            if self._seen_id < self._awaited_id:
                # Notified, but that transaction is not yet older than every running one
                # (see sql/schema/04_events.sql; other databases of the server count too): look
                # again soon rather than at the next poll, and at once if a notification
                # comes first (the transaction that held it back may be the one that
                # notifies). Short waits first: a hold-back usually lasts a transaction.
                now = loop.time()
                if recheck is None or self._awaited_id > rechecking_for:
                    recheck, rechecking_since = self.first_recheck_delay, now
                    rechecking_for = self._awaited_id
                elif now - rechecking_since < self.recheck_for:
                    recheck = min(recheck * 2, self.max_recheck_delay)
                else:
                    self._awaited_id = self._seen_id
                    recheck = None
            else:
                recheck = None

    async def _read_all(self) -> None:
        """Reads everything after the head and offers it to every subscriber."""
        while True:
            rows = await self.engine.store.read_events(self.head, None, None, BATCH)
            for row in rows:
                event = Event.from_row(row)
                for sub in list(self._subscribers):
                    sub.offer(event)
                self._seen_id = max(self._seen_id, event.id)
            if rows:
                self.head = max(self.head, (int(rows[-1]["tx_id"]), int(rows[-1]["event_id"])))
            if len(rows) < BATCH:
                return

    def _end_subscribers(self) -> None:
        for sub in self._subscribers:
            sub.queue.put_nowait(None)
        self._subscribers.clear()

    async def close(self) -> None:
        self._end_subscribers()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


_hubs: weakref.WeakKeyDictionary[AsyncEngine, EventHub] = weakref.WeakKeyDictionary()


def hub_for(engine: AsyncEngine) -> EventHub:
    hub = _hubs.get(engine)
    if hub is None:
        hub = _hubs[engine] = EventHub(engine)
        engine.on_close(hub.close)  # listeners end at once when the engine closes
    return hub
