"""The sync facade: the same engine, callable without an event loop."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import htdag
import htdag.errors
from htdag import Flow
from htdag.errors import RunCancelled, RunFailed, UnknownRunError, WaitTimeout
from htdag.flows import RunStatus


@pytest.fixture
def engine(sync_engine: htdag.Engine) -> htdag.Engine:
    """These tests use the sync facade under the usual name."""
    return sync_engine


def squares_flow() -> Flow:
    flow = Flow("squares")

    @flow.step(map=True, base_delay=0.01, max_delay=0.01)
    def square(x: int) -> int:
        return x * x

    @flow.step(depends_on=["square"])
    async def total(inp: Any) -> int:
        return sum(inp["square"])

    return flow


def test_a_run_through_the_sync_engine(engine: htdag.Engine) -> None:
    flow = squares_flow()
    with engine.start_worker([flow], poll_interval=0.05):
        run = engine.start(flow, [1, 2, 3])
        assert isinstance(run, htdag.Run)
        assert run.wait(timeout=10) == {"total": 14}
        assert engine.run(flow, [4], timeout=10) == {"total": 16}

    details = run.status()
    assert details.status is RunStatus.COMPLETED
    assert [s.step_name for s in details.steps] == ["square", "total"]
    assert len(details.tasks) == 4
    assert engine.status(str(run.run_id)).run.output == {"total": 14}
    completed = engine.list_runs(status="completed")
    assert len(completed) == 2 and run.run_id in [r.run_id for r in completed]
    assert engine.list_runs(flow="other") == []
    assert engine.wait(run.run_id, timeout=1) == {"total": 14}
    assert engine.list_workers()[0].stopped_at is not None


def test_sync_errors_are_the_same_types(engine: htdag.Engine) -> None:
    flow = squares_flow()
    run = engine.start(flow, [1])
    with pytest.raises(WaitTimeout):
        run.wait(timeout=0.2)
    assert run.cancel() is RunStatus.CANCELLED
    with pytest.raises(RunCancelled):
        engine.wait(run.run_id, timeout=1)
    with pytest.raises(UnknownRunError):
        engine.status("nope")
    with pytest.raises(htdag.errors.InvalidInput):
        engine.start(flow, {1})


def test_a_failure_through_the_sync_engine(engine: htdag.Engine) -> None:
    flow = squares_flow()
    with engine.start_worker([flow], poll_interval=0.05):
        run = engine.start(flow, ["a"])  # "a" * "a" raises TypeError, retried, then fails
        with pytest.raises(RunFailed) as caught:
            run.wait(timeout=30)
    assert caught.value.step == "square"
    assert "TypeError" in caught.value.error


def test_the_sync_engine_works_from_several_threads(engine: htdag.Engine) -> None:
    flow = squares_flow()
    outputs: list[Any] = []
    with engine.start_worker([flow], poll_interval=0.05, concurrency=8):
        threads = [threading.Thread(target=lambda n=n: outputs.append(
            engine.run(flow, [n], timeout=20))) for n in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert sorted(o["total"] for o in outputs) == [0, 1, 4, 9, 16]
