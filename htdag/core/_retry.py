"""Trying a failing call again: the delays between tries, and a loop around an
async call for the places that only wait and try again."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


def backoff(first: float, cap: float, *, factor: float = 2.0, jitter: float = 0.5
            ) -> Iterator[float]:
    """Endless delays: ``first``, ``first * factor``, ... up to ``cap``, each less a
    random part of up to ``jitter`` of it, so that many clients that failed
    together do not all try again at the same moment."""
    delay = first
    while True:
        yield delay * (1.0 - jitter * random.random())
        delay = min(delay * factor, cap)


async def retry(
    call: Callable[[], Awaitable[T]],
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    delays: Iterator[float],
    attempts: int | None = None,
    deadline: float | None = None,
    on_retry: Callable[[BaseException, float], object] | None = None,
) -> T:
    """``await call()`` until it returns, sleeping the next of ``delays`` after
    each failure with a ``retry_on`` error. The error of the last try is raised
    after ``attempts`` tries, or when the next try would start after ``deadline``
    (a ``time.monotonic()`` value). ``on_retry(error, delay)`` is called before
    each sleep (to log, or to count)."""
    for attempt in itertools.count(1):
        try:
            return await call()
        except retry_on as exc:
            delay = next(delays)
            if attempts is not None and attempt >= attempts:
                raise
            if deadline is not None and time.monotonic() + delay > deadline:
                raise
            if on_retry is not None:
                on_retry(exc, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # itertools.count() does not end
