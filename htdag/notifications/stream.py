"""listen(), get_recent_events(), prune_events() and the task-events setting.
Async first; the sync forms run them on htdag's private loop."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, Iterable, Iterator
from datetime import timedelta

from ..core._portal import portal
from ..core.engine import AsyncEngine, RunId, _run_uuid
from ..core.errors import HtdagError, UnknownRunError
from ..core.sync import Engine
from .events import RUN_FINISHED, Event, EventKind, parse_kinds
from .hub import BATCH, Position, Subscriber, hub_for

Kinds = str | Iterable[str] | None


class UnknownEventError(HtdagError, LookupError):
    """No event has that id (it may have been pruned): resume from a later id, or from 0."""


class _RunFilter:
    """Follows a run and the child runs it starts, in stream order."""

    def __init__(self, runs: set[uuid.UUID] | None, kinds: frozenset[str] | None,
                 until_done: uuid.UUID | None) -> None:
        self.runs = runs
        self.kinds = kinds
        self.until_done = until_done
        self.done = False

    def accepts(self, event: Event) -> bool:
        if self.runs is not None:
            if event.kind == EventKind.RUN_STARTED and event.data.get("parent_run_id"):
                if uuid.UUID(str(event.data["parent_run_id"])) in self.runs and event.run_id:
                    self.runs.add(event.run_id)
            if event.run_id not in self.runs:
                return False
        if self.until_done is not None and event.run_id == self.until_done \
                and event.kind in RUN_FINISHED:
            self.done = True
        return self.kinds is None or event.kind in self.kinds


async def _run_tree(engine: AsyncEngine, run_id: RunId | None
                    ) -> tuple[uuid.UUID | None, list[uuid.UUID] | None]:
    """(root, the run and its descendants) of ``run_id``; (None, None) for none."""
    if run_id is None:
        return None, None
    rid = _run_uuid(run_id)
    tree = await engine.store.run_tree(rid)
    if tree is None:
        raise UnknownRunError(f"no run has id {rid}; list runs with engine.list_runs()")
    return tree


async def alisten(engine: AsyncEngine, run_id: RunId | None = None, kinds: Kinds = None,
                  since: int | None = None, *, until_done: bool = False,
                  idle_timeout: float | None = None,
                  max_pending: int = 10_000) -> AsyncGenerator[Event, None]:
    """Yields events live, in order. ``run_id`` follows that run and its child
    runs; ``kinds`` are kinds or categories; ``since`` replays from the table
    after that event id (0: from the start) before going live. ``until_done``
    stops after the run finishes; ``idle_timeout`` after that long without an
    event; closing the engine ends it too. The stream is gap-free across reconnects."""
    store = engine.store
    kind_set = parse_kinds(kinds)
    root, members = await _run_tree(engine, run_id)
    rid = None if run_id is None else _run_uuid(run_id)
    runs = None if members is None else set(members)
    if until_done and rid is None:
        raise ValueError("until_done needs a run_id")
    start: Position | None = None
    if since is not None:
        start = (0, 0) if since == 0 else await store.event_position(since)
        if start is None:
            raise UnknownEventError(f"no event has id {since} (pruned?); resume from a later "
                                    "id, or from 0 for the whole history")
    filt = _RunFilter(runs, kind_set, rid if until_done else None)
    hub = hub_for(engine)
    sub = Subscriber(root, max_pending)
    head = await hub.add(sub)
    if start is not None and start > head:
        # Resuming after an event the shared reader has not reached yet: the live
        # queue must skip what comes before it, as the table read would.
        sub.start = start
    try:
        if until_done and rid is not None and since is None:
            # Checked once subscribed: a run that ends after this check ends in the stream.
            outcome = await store.run_outcome(rid)
            if outcome is not None and outcome["status"] != "running":
                return
        position = start if start is not None else head
        while True:
            # The table up to the head first (history, or what a slow listener missed) ...
            while position < head:
                rows = await store.read_events(position, head, root, BATCH)
                for row in rows:
                    event = Event.from_row(row)
                    position = event.position
                    if filt.accepts(event):
                        yield event
                        if filt.done:
                            return
                if len(rows) < BATCH:
                    position = head
            # ... then live from the hub, which queues everything after the head.
            while not sub.overflowed or not sub.queue.empty():
                try:
                    async with asyncio.timeout(idle_timeout):  # keeps a cancellation
                        item = await sub.queue.get()
                except TimeoutError:
                    return
                if item is None:  # the engine was closed
                    return
                event = item
                position = event.position
                if filt.accepts(event):
                    yield event
                    if filt.done:
                        return
            # Overflowed: resume from the table at what this listener saw last.
            sub.overflowed = False
            sub.start = head = max(hub.head, position)
    finally:
        hub.remove(sub)


async def _next(stream: AsyncGenerator[Event, None]) -> Event:
    return await anext(stream)


def listen(engine: Engine, run_id: RunId | None = None, kinds: Kinds = None,
           since: int | None = None, *, until_done: bool = False,
           idle_timeout: float | None = None) -> Iterator[Event]:
    """The sync form of :func:`alisten`: a generator of events."""
    stream = alisten(engine.aio, run_id, kinds, since, until_done=until_done,
                     idle_timeout=idle_timeout)
    try:
        while True:
            try:
                yield portal().call(_next(stream))
            except StopAsyncIteration:
                return
    finally:
        with contextlib.suppress(Exception):
            portal().call(stream.aclose())


async def aget_recent_events(engine: AsyncEngine, run_id: RunId | None = None, *,
                             limit: int = 100, since_id: int | None = None,
                             kinds: Kinds = None) -> list[Event]:
    """History in stream order (oldest first): the events after event ``since_id``,
    or else the latest ``limit``. With a run id: that run's and its child runs'."""
    store = engine.store
    root, runs = await _run_tree(engine, run_id)
    kind_set = parse_kinds(kinds)
    rows = await store.recent_events(runs, None if kind_set is None else sorted(kind_set),
                                     since_id, limit, root)
    return [Event.from_row(r) for r in rows]


def get_recent_events(engine: Engine, run_id: RunId | None = None, *, limit: int = 100,
                      since_id: int | None = None, kinds: Kinds = None) -> list[Event]:
    return portal().call(aget_recent_events(engine.aio, run_id, limit=limit,
                                            since_id=since_id, kinds=kinds))


def _seconds(older_than: timedelta | float) -> float:
    seconds = older_than.total_seconds() if isinstance(older_than, timedelta) \
        else float(older_than)
    if seconds < 0:
        raise ValueError("older_than must not be negative")
    return seconds


async def aprune_events(engine: AsyncEngine, older_than: timedelta | float) -> int:
    """Deletes events older than ``older_than`` (a timedelta or seconds)."""
    return await engine.store.prune_events(_seconds(older_than))


def prune_events(engine: Engine, older_than: timedelta | float) -> int:
    return portal().call(aprune_events(engine.aio, older_than))


async def aset_task_events(engine: AsyncEngine, enabled: bool) -> None:
    """Records task-level events (on by default) or only run, step and worker ones."""
    await engine.store.set_setting("task_events", bool(enabled))


def set_task_events(engine: Engine, enabled: bool) -> None:
    portal().call(aset_task_events(engine.aio, enabled))


async def stable_tail(engine: AsyncEngine, run_id: RunId | None, kinds: Kinds,
                      limit: int) -> list[Event]:
    """The last ``limit`` events in stream order that no later commit can precede:
    resuming ``alisten`` after the last of them misses nothing."""
    root, runs = await _run_tree(engine, run_id)
    kind_set = parse_kinds(kinds)
    rows = await engine.store.stable_tail(runs, None if kind_set is None else sorted(kind_set),
                                          limit, root)
    return [Event.from_row(r) for r in rows]
