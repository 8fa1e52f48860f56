"""Sinks: a WebhookSink POSTs JSON batches of events, in order, to a local
HTTP server; failures are retried with backoff, then dropped with a logged
error; a slow, failing or hanging receiver never slows the engine."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from htdag import Flow
from htdag.core.engine import AsyncEngine
from htdag.notifications import Event, EventForwarder, EventSink, SinkError, WebhookSink

from .._event_support import table_ids
from .._support import Db, eventually, running_worker


@dataclass
class Request:
    at: float
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Receiver:
    """What the server answers (a list of statuses, then ``then``; "hang" waits)."""

    url: str = ""
    plan: list[int | str] = field(default_factory=list)
    then: int | str = 200
    requests: list[Request] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> int | str:
        with self.lock:
            return self.plan.pop(0) if self.plan else self.then

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """The events of the batches answered 200, in arrival order."""
        return [e for r in self.requests if r.status == 200 for e in r.body["events"]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answer = state.next_answer()
            if answer == "hang":
                state.release.wait(10)
                return
            assert isinstance(answer, int)
            state.requests.append(Request(time.monotonic(), answer, body, dict(self.headers)))
            self.send_response(answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def chatty_flow() -> Flow:
    flow = Flow("chatty")

    @flow.step(map=True)
    def part(x: int) -> int:
        return x

    return flow


async def forwarded_run(engine: AsyncEngine, forwarder: EventForwarder,
                        items: int = 5) -> Any:
    """Starts the forwarder, then a run to completion; returns the run."""
    flow = chatty_flow()
    forwarder.start()
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, list(range(items)))
        await run.wait(10)
    return run


async def test_batches_are_json_with_the_events_in_order(
        engine: AsyncEngine, db: Db, receiver: Receiver) -> None:
    sink = WebhookSink(receiver.url, headers={"Authorization": "Bearer t0ken"})
    forwarder = EventForwarder(engine, sink, since=0, batch_size=4, flush_interval=0.05)
    try:
        run = await forwarded_run(engine, forwarder)
        table = await table_ids(db)
        # counted once the POST returns, a moment after the receiver has the batch
        await eventually(lambda: forwarder.stats.sent >= len(table))
    finally:
        await forwarder.stop()

    assert [e["id"] for e in receiver.delivered] == table  # worker events included
    assert all(1 <= len(r.body["events"]) <= 4 for r in receiver.requests)
    assert len(receiver.requests) >= len(table) / 4
    first = receiver.requests[0]
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["Authorization"] == "Bearer t0ken"
    started = next(e for e in receiver.delivered if e["kind"] == "run.started")
    assert started["run_id"] == started["root_run_id"] == str(run.run_id)
    assert set(started) == {"id", "kind", "run_id", "root_run_id", "step", "task_index",
                            "created_at", "data"}
    assert forwarder.stats.sent == len(table) and forwarder.stats.dropped == 0


async def test_a_forwarder_can_follow_one_run_and_some_kinds(
        engine: AsyncEngine, receiver: Receiver) -> None:
    flow = chatty_flow()
    other = await engine.start(flow, [1])
    run = await engine.start(flow, [1, 2, 3])
    forwarder = EventForwarder(engine, WebhookSink(receiver.url), run_id=run.run_id,
                               kinds=["run", "task.completed"], since=0, flush_interval=0.02)
    forwarder.start()
    try:
        async with running_worker(engine, [flow]):
            await run.wait(10)
            await other.wait(10)
        await eventually(lambda: any(e["kind"] == "run.completed" for e in receiver.delivered))
    finally:
        await forwarder.stop()

    assert [(e["kind"], e["run_id"]) for e in receiver.delivered] == [
        ("run.started", str(run.run_id))] + [("task.completed", str(run.run_id))] * 3 + [
        ("run.completed", str(run.run_id))]


async def test_a_receiver_that_fails_a_few_times_gets_every_event_once_after_backoff(
        engine: AsyncEngine, db: Db, receiver: Receiver) -> None:
    receiver.plan = [500, 503, 500]
    base = 0.04
    forwarder = EventForwarder(engine, WebhookSink(receiver.url), since=0, batch_size=1000,
                               flush_interval=0.3, max_attempts=5, base_delay=base)
    try:
        await forwarded_run(engine, forwarder)
        table = await table_ids(db)
        await eventually(lambda: len(receiver.delivered) >= len(table))
    finally:
        await forwarder.stop()

    delivered = [e["id"] for e in receiver.delivered]
    assert delivered == table and len(set(delivered)) == len(delivered)
    statuses = [r.status for r in receiver.requests]
    assert statuses[:4] == [500, 503, 500, 200]
    first_batch = [r.body["events"] for r in receiver.requests[:4]]
    assert all(batch == first_batch[0] for batch in first_batch)  # the same batch, retried
    gaps = [b.at - a.at for a, b in zip(receiver.requests[:3], receiver.requests[1:4], strict=True)]
    for attempt, gap in enumerate(gaps, start=1):  # at least half of base * 2^(attempt-1)
        assert gap >= 0.5 * base * 2 ** (attempt - 1) * 0.9, gaps
    assert gaps[2] > gaps[0]
    assert forwarder.stats.failures == 3 and forwarder.stats.dropped == 0


async def test_a_receiver_that_always_fails_gets_batches_dropped_with_a_logged_error(
        engine: AsyncEngine, receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.then = 500
    forwarder = EventForwarder(engine, WebhookSink(receiver.url), since=0, batch_size=1000,
                               flush_interval=0.05, max_attempts=3, base_delay=0.01)
    caplog.set_level(logging.ERROR, logger="htdag.sinks")
    try:
        started = time.monotonic()
        await forwarded_run(engine, forwarder)
        assert time.monotonic() - started < 3
        await eventually(lambda: forwarder.stats.dropped > 0)
    finally:
        await forwarder.stop()

    [record, *_] = [r for r in caplog.records if r.name == "htdag.sinks"]
    assert record.levelno == logging.ERROR
    assert "after 3 attempts" in record.getMessage() and "answered 500" in record.getMessage()
    assert all(r.status == 500 for r in receiver.requests)
    assert forwarder.stats.sent == 0


async def test_a_hanging_receiver_never_slows_the_engine(
        engine: AsyncEngine, receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.then = "hang"
    flow = chatty_flow()
    forwarder = EventForwarder(engine, WebhookSink(receiver.url, timeout=0.3), since=0,
                               batch_size=5, flush_interval=0.02, max_attempts=2,
                               base_delay=0.05)
    caplog.set_level(logging.ERROR, logger="htdag.sinks")
    forwarder.start()
    try:
        async with running_worker(engine, [flow]):
            for n in range(5):  # each run as fast as ever, while every POST hangs
                started = time.monotonic()
                await (await engine.start(flow, list(range(10)))).wait(5)
                assert time.monotonic() - started < 1.0, f"run {n} was slowed down"
            assert forwarder.stats.sent == 0
        await eventually(lambda: forwarder.stats.dropped > 0, timeout=5)
    finally:
        await forwarder.stop()

    assert any("unreachable" in r.getMessage() and "after 2 attempts" in r.getMessage()
               for r in caplog.records if r.levelno == logging.ERROR)


async def test_a_sink_that_raises_is_retried_then_dropped_and_others_go_on(
        engine: AsyncEngine, db: Db, caplog: pytest.LogCaptureFixture) -> None:
    class Picky(EventSink):
        def __init__(self) -> None:
            self.got: list[list[int]] = []
            self.closed = False

        async def send(self, events: Sequence[Event]) -> None:
            ids = [e.id for e in events]
            if any(e.kind == "run.started" for e in events):
                raise SinkError("no run.started, please")
            self.got.append(ids)

        async def close(self) -> None:
            self.closed = True

    sink = Picky()
    forwarder = EventForwarder(engine, sink, since=0, batch_size=1, flush_interval=0.01,
                               max_attempts=2, base_delay=0.001)
    caplog.set_level(logging.ERROR, logger="htdag.sinks")
    try:
        await forwarded_run(engine, forwarder, items=2)
        table = await table_ids(db)
        await eventually(lambda: forwarder.stats.batches >= len(table))
    finally:
        await forwarder.stop()

    assert forwarder.stats.dropped == 1 and forwarder.stats.failures == 2
    assert sink.closed
    assert "no run.started" in caplog.text
    started = await db.value("select event_id from htdag.events where kind = 'run.started'")
    assert [i for batch in sink.got for i in batch] == [i for i in table if i != started]


def test_a_webhook_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookSink("ftp://example.com/hook")


async def test_a_webhook_sink_says_why_a_post_failed(receiver: Receiver) -> None:
    receiver.plan = [404]
    sink = WebhookSink(receiver.url)
    with pytest.raises(SinkError, match="answered 404"):
        await sink.send([])
    await sink.send([])
    closed = WebhookSink("http://127.0.0.1:9/none", timeout=0.5)
    with pytest.raises(SinkError, match="unreachable"):
        await closed.send([])
    await asyncio.sleep(0)


async def test_a_forwarder_started_just_before_a_run_forwards_it_from_its_start(
        engine: AsyncEngine, receiver: Receiver) -> None:
    flow = chatty_flow()
    forwarder = EventForwarder(engine, WebhookSink(receiver.url), flush_interval=0.02).start()
    try:
        run = await engine.start(flow, [1])
        async with running_worker(engine, [flow]):
            await run.wait(10)
            await eventually(lambda: any(e["kind"] == "run.completed"
                                         for e in receiver.delivered))
    finally:
        await forwarder.stop()

    kinds = [e["kind"] for e in receiver.delivered if e["run_id"] == str(run.run_id)]
    assert kinds[:2] == ["run.started", "step.started"]
