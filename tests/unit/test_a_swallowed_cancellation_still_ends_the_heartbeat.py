"""A cancellation that an awaited call took in (a pool handing over a connection
at that moment can) still ends the worker's heartbeat task, which stop() ends
by cancelling it: else the worker waited out the heartbeat's interval."""

from __future__ import annotations

import asyncio

import pytest

from htdag.core.worker import _end_if_cancelled


async def test_a_cancellation_taken_in_by_an_awaited_call_still_ends_the_task() -> None:
    async def takes_in_a_cancellation() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return  # as a connection handed over at the same moment is returned

    reached = asyncio.Event()

    async def loop() -> None:
        while True:
            reached.set()
            await takes_in_a_cancellation()
            _end_if_cancelled()

    task = asyncio.create_task(loop())
    await reached.wait()
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)


async def test_an_uncancelled_task_goes_on() -> None:
    _end_if_cancelled()  # nothing to end: returns
