"""A worker runs whole DAGs: chains, fan-out and fan-in, and map steps."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from htdag import Flow
from htdag.core.engine import AsyncEngine

from .._support import Db, running_worker


async def test_a_chain_runs_step_after_step_each_seeing_its_dependency(
        engine: AsyncEngine, db: Db) -> None:
    flow = Flow("chain")
    seen: dict[str, Any] = {}

    @flow.step()
    def a(inp: Any) -> int:
        seen["a"] = inp
        return int(inp["run"]) + 1

    @flow.step(depends_on=["a"])
    async def b(inp: Any) -> int:
        seen["b"] = inp
        return int(inp["a"]) * 10

    @flow.step(depends_on=["b"])
    def c(inp: Any) -> dict[str, int]:
        seen["c"] = inp
        return {"final": inp["b"]}

    async with running_worker(engine, [flow]):
        output = await engine.run(flow, 1, timeout=10)

    assert output == {"c": {"final": 20}}
    assert seen == {"a": {"run": 1}, "b": {"run": 1, "a": 2}, "c": {"run": 1, "b": 20}}
    times = {t["step_name"]: t for t in await db.rows("select * from htdag.tasks")}
    assert times["a"]["completed_at"] <= times["b"]["started_at"]
    assert times["b"]["completed_at"] <= times["c"]["started_at"]


async def test_a_fan_out_runs_branches_in_parallel_and_the_fan_in_sees_them_all(
        engine: AsyncEngine) -> None:
    flow = Flow("diamond")
    arrived = {"left": asyncio.Event(), "right": asyncio.Event()}

    @flow.step()
    def split(inp: Any) -> list[int]:
        return [1, 2, 3]

    async def branch(name: str, other: str, value: int) -> int:
        arrived[name].set()
        await asyncio.wait_for(arrived[other].wait(), 5)  # both run at once
        return value

    @flow.step(depends_on=["split"])
    async def left(inp: Any) -> int:
        return await branch("left", "right", sum(inp["split"]))

    @flow.step(depends_on=["split"])
    async def right(inp: Any) -> int:
        return await branch("right", "left", len(inp["split"]))

    @flow.step(depends_on=["left", "right"])
    def join(inp: dict[str, Any]) -> dict[str, Any]:
        return inp

    async with running_worker(engine, [flow], concurrency=2):
        output = await engine.run(flow, {"n": 3}, timeout=10)

    assert output == {"join": {"run": {"n": 3}, "left": 6, "right": 3}}


async def test_a_map_over_100_elements_aggregates_in_order(engine: AsyncEngine, db: Db) -> None:
    flow = Flow("squares")

    @flow.step()
    def numbers(inp: Any) -> list[int]:
        return list(range(inp["run"]["n"]))

    @flow.step(depends_on=["numbers"], map=True)
    async def square(x: int) -> int:
        await asyncio.sleep(0.001 * (x % 7))  # finish out of order
        return x * x

    @flow.step(depends_on=["square"])
    def total(inp: Any) -> dict[str, Any]:
        return {"sum": sum(inp["square"]), "first": inp["square"][:4], "n": len(inp["square"])}

    async with running_worker(engine, [flow], concurrency=8):
        run = await engine.start(flow, {"n": 100})
        output = await run.wait(timeout=20)

    assert output == {"total": {"sum": sum(x * x for x in range(100)), "first": [0, 1, 4, 9],
                                "n": 100}}
    square_state = await db.step(run.run_id, "square")
    assert square_state["output"] == [x * x for x in range(100)]
    assert await db.value("select count(*) from htdag.tasks where status = 'completed'") == 102


async def test_sync_handlers_run_in_threads_and_async_ones_on_the_loop(
        engine: AsyncEngine) -> None:
    flow = Flow("threads")
    loop_thread = threading.get_ident()
    where: dict[str, int] = {}

    @flow.step()
    def blocking(inp: Any) -> str:
        where["blocking"] = threading.get_ident()
        return "sync"

    @flow.step()
    async def nonblocking(inp: Any) -> str:
        where["nonblocking"] = threading.get_ident()
        return "async"

    async with running_worker(engine, [flow]):
        output = await engine.run(flow, None, timeout=10)

    assert output == {"blocking": "sync", "nonblocking": "async"}
    assert where["nonblocking"] == loop_thread
    assert where["blocking"] != loop_thread


async def test_a_worker_runs_handlers_given_by_name(engine: AsyncEngine) -> None:
    flow = Flow("named")
    flow.add_step("greet", "tools.greet")
    flow.add_step("shout", "tools.shout", depends_on=["greet"])

    def greet(inp: Any) -> str:
        return f"hello {inp['run']}"

    async def shout(inp: Any) -> str:
        return str(inp["greet"]).upper()

    async with running_worker(engine, {"tools.greet": greet, "tools.shout": shout}):
        assert await engine.run(flow, "ann", timeout=10) == {"shout": "HELLO ANN"}


class AsyncTool:
    """A handler object whose __call__ is a coroutine function."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    async def __call__(self, inp: Any) -> str:
        await asyncio.sleep(0)
        return f"{self.prefix} {inp['run']}"


async def test_a_handler_object_with_an_async_call_is_awaited(engine: AsyncEngine) -> None:
    flow = Flow("objects")
    flow.add_step("tool", "tools.async_tool")

    async with running_worker(engine, {"tools.async_tool": AsyncTool("called with")}):
        assert await engine.run(flow, 7, timeout=10) == {"tool": "called with 7"}
