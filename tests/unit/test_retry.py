"""The one retry helper: delays that grow to a cap with jitter, and a loop that
tries an async call again on the errors it is told to."""

from __future__ import annotations

import itertools
import time

import pytest

from htdag.core._retry import backoff, retry


def test_delays_double_up_to_the_cap_less_up_to_half_at_random() -> None:
    delays = list(itertools.islice(backoff(0.1, 1.0), 8))
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling


def test_delays_without_jitter_are_exact() -> None:
    assert list(itertools.islice(backoff(1, 5, factor=3, jitter=0), 4)) == [1, 3, 5, 5]


class Flaky:
    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"failure {self.calls}")
        return "done"


async def test_retry_tries_again_until_the_call_succeeds() -> None:
    call = Flaky(3)
    seen: list[tuple[str, float]] = []
    result = await retry(call, retry_on=ConnectionError, delays=backoff(0.001, 0.002),
                         on_retry=lambda exc, delay: seen.append((str(exc), delay)))
    assert result == "done" and call.calls == 4
    assert [message for message, _ in seen] == ["failure 1", "failure 2", "failure 3"]


async def test_retry_raises_the_last_error_after_its_attempts() -> None:
    call = Flaky(10)
    with pytest.raises(ConnectionError, match="failure 3"):
        await retry(call, retry_on=ConnectionError, delays=backoff(0.001, 0.001), attempts=3)
    assert call.calls == 3


async def test_retry_does_not_sleep_past_its_deadline() -> None:
    call = Flaky(10)
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        await retry(call, retry_on=ConnectionError, delays=backoff(0.05, 0.05, jitter=0),
                    deadline=started + 0.12)
    assert call.calls == 3 and time.monotonic() - started < 0.12


async def test_other_errors_are_raised_at_once() -> None:
    call = Flaky(1, ValueError)
    with pytest.raises(ValueError):
        await retry(call, retry_on=ConnectionError, delays=backoff(0.001, 0.001))
    assert call.calls == 1
