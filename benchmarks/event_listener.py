"""The listener process of the event-latency benchmark (run_all.py starts it).

    .venv/bin/python benchmarks/event_listener.py URL

Follows the event stream with ``htdag.notifications.alisten`` (``task.completed``
events of every run) from the last event present at start, prints ``ready``
once it is set up, then one line per event as it is received::

    <run_id> <event created_at, epoch seconds> <received, time.time()>

and exits when its stdin closes.
"""

from __future__ import annotations

import asyncio
import sys
import time

from htdag.core.engine import AsyncEngine
from htdag.notifications import aget_recent_events, alisten


async def follow(url: str) -> None:
    engine = await AsyncEngine.connect(url, pool_size=2)
    try:
        last = await aget_recent_events(engine, limit=1)
        since = last[-1].id if last else 0
        stream = alisten(engine, kinds="task.completed", since=since)
        out = sys.stdout
        print("ready", file=out, flush=True)
        async for event in stream:
            received = time.time()
            out.write(f"{event.run_id} {event.created_at.timestamp():.6f} {received:.6f}\n")
            out.flush()
    finally:
        await engine.close()


async def main(url: str) -> None:
    loop = asyncio.get_running_loop()
    follower = loop.create_task(follow(url))
    # The benchmark closes our stdin to stop us.
    stdin_closed = loop.run_in_executor(None, sys.stdin.buffer.read)
    done, _ = await asyncio.wait({follower, stdin_closed}, return_when=asyncio.FIRST_COMPLETED)
    if follower in done:
        follower.result()
        return
    follower.cancel()
    try:
        await follower
    except asyncio.CancelledError:
        pass


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
