"""The engine's one LISTEN connection listens only on channels somebody
subscribed to (a worker process is not woken by the event stream), and adds a
channel when a later subscription needs it."""

from __future__ import annotations

import asyncio
import time

import pytest

from htdag.core.engine import AsyncEngine
from htdag.core.listener import Listener

from .._support import Db, eventually


async def test_a_worker_only_subscription_hears_no_event_notifications(
        engine: AsyncEngine, db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    listener = engine.listener
    heard: list[str] = []
    dispatch = listener._dispatch
    monkeypatch.setattr(listener, "_dispatch",
                        lambda channel, payload: (heard.append(channel),
                                                  dispatch(channel, payload)))
    tasks: list[str] = []
    listener.subscribe("htdag_tasks", lambda channel, payload: tasks.append(payload))
    await listener.wait_connected()

    await db.execute("select pg_notify('htdag_events', '1:1'), pg_notify('htdag_tasks', 'x')")

    await eventually(lambda: tasks == ["x"])
    await asyncio.sleep(0.1)
    assert heard == ["htdag_tasks"]


async def test_a_later_subscription_adds_its_channel_and_is_told_to_catch_up(
        engine: AsyncEngine, db: Db) -> None:
    listener = engine.listener
    tasks: list[str] = []
    first_reconnects: list[int] = []
    listener.subscribe("htdag_tasks", lambda c, p: tasks.append(p),
                       lambda: first_reconnects.append(1))
    await listener.wait_connected()
    assert first_reconnects == [1]

    events: list[str] = []
    caught_up: list[int] = []
    listener.subscribe("htdag_events", lambda c, p: events.append(p),
                       lambda: caught_up.append(1))
    assert not listener.connected.is_set()  # not listening on htdag_events yet
    await listener.wait_connected()
    assert caught_up == [1] and first_reconnects == [1]

    await db.execute("select pg_notify('htdag_events', '7:1'), pg_notify('htdag_tasks', 'y')")

    await eventually(lambda: events == ["7:1"] and tasks == ["y"])


async def test_closing_while_a_channel_is_being_added_ends_the_listener(dsn: str) -> None:
    # Close at each point of the switch to the new channel, one loop turn apart.
    for turns in range(8):
        listener = Listener(dsn)
        listener.subscribe("htdag_tasks", lambda c, p: None)
        await listener.wait_connected()
        listener.subscribe("htdag_events", lambda c, p: None)
        for _ in range(turns):
            await asyncio.sleep(0)
        started = time.monotonic()
        await asyncio.wait_for(listener.close(), 3)
        # (close() would swallow wait_for's cancellation: time it instead)
        assert time.monotonic() - started < 1, f"close() hung after {turns} loop turns"
        assert listener._task is None
