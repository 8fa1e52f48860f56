"""Sending events elsewhere. A forwarder reads the event stream on its own and
hands batches to a sink with retries and backoff; a slow or dead receiver only
makes the forwarder fall behind (it re-reads from the table), never the engine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..core._retry import backoff, retry
from ..core.engine import AsyncEngine, RunId
from ..core.errors import HtdagError
from .events import Event
from .stream import Kinds, alisten

log = logging.getLogger("htdag.sinks")


class EventSink:
    """Override :meth:`send`; raise to have the batch retried."""

    async def send(self, events: Sequence[Event]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Releases what the sink holds."""


class SinkError(HtdagError):
    """A sink could not deliver a batch (retried, then dropped)."""


class WebhookSink(EventSink):
    """POSTs ``{"events": [...]}`` as JSON; any answer but 2xx is a failure."""

    def __init__(self, url: str, *, headers: Mapping[str, str] | None = None,
                 timeout: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must start with http:// or https://, got {url!r}")
        self.url = url
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.timeout = timeout

    async def send(self, events: Sequence[Event]) -> None:
        body = json.dumps({"events": [e.to_json() for e in events]}).encode()
        await asyncio.to_thread(self._post, body)

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(self.url, data=body, headers=self.headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                if not 200 <= response.status < 300:
                    raise SinkError(f"{self.url} answered {response.status}")
        except urllib.error.HTTPError as exc:
            raise SinkError(f"{self.url} answered {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SinkError(f"{self.url} unreachable: {exc}") from None


@dataclass
class ForwarderStats:
    sent: int = 0
    dropped: int = 0
    batches: int = 0
    failures: int = 0


class EventForwarder:
    """Forwards the stream (optionally one run's, some kinds) to a sink in batches."""

    def __init__(self, engine: AsyncEngine, sink: EventSink, *, run_id: RunId | None = None,
                 kinds: Kinds = None, since: int | None = None, batch_size: int = 100,
                 flush_interval: float = 0.2, max_attempts: int = 5, base_delay: float = 0.5,
                 max_delay: float = 30.0) -> None:
        self.engine = engine
        self.sink = sink
        self.run_id, self.kinds, self.since = run_id, kinds, since
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.stats = ForwarderStats()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> EventForwarder:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="htdag-forwarder")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.sink.close()

    async def run(self) -> None:
        # A bounded hand-off: when the sink is slow the reader stops pulling, the
        # stream's own queue overflows, and it catches up from the table later.
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=self.batch_size * 10)

        async def pump() -> None:
            async for event in alisten(self.engine, self.run_id, self.kinds, self.since):
                await queue.put(event)

        reader = asyncio.get_running_loop().create_task(pump(), name="htdag-forwarder-reader")
        try:
            while True:
                batch = [await self._next(queue, reader, None)]
                deadline = asyncio.get_running_loop().time() + self.flush_interval
                while len(batch) < self.batch_size:
                    left = deadline - asyncio.get_running_loop().time()
                    if left <= 0:
                        break
                    try:
                        batch.append(await self._next(queue, reader, left))
                    except TimeoutError:
                        break
                await self._deliver(batch)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    @staticmethod
    async def _next(queue: asyncio.Queue[Event], reader: asyncio.Task[None],
                    timeout: float | None) -> Event:
        if not queue.empty():
            return queue.get_nowait()
        getter = asyncio.ensure_future(queue.get())
        done, _ = await asyncio.wait({getter, reader}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        if reader in done:
            reader.result()  # raises the reader's error
            raise RuntimeError("the event stream ended")
        raise TimeoutError

    async def _deliver(self, batch: list[Event]) -> None:
        def count_failure(error: BaseException, delay: float) -> None:
            self.stats.failures += 1

        try:
            # Any sink failure is retried.
            await retry(lambda: self.sink.send(batch), retry_on=Exception,
                        delays=backoff(self.base_delay, self.max_delay),
                        attempts=self.max_attempts, on_retry=count_failure)
        except Exception as exc:  # noqa: BLE001 - the last failure: the batch is dropped
            self.stats.failures += 1
            log.error("dropping %d events (ids %d-%d) after %d attempts: %s",
                      len(batch), batch[0].id, batch[-1].id, self.max_attempts, exc)
            self.stats.dropped += len(batch)
        else:
            self.stats.sent += len(batch)
        self.stats.batches += 1
