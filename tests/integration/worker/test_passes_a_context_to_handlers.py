"""A handler that takes two parameters gets a TaskContext with its run, step,
task index, attempt and an idempotency key stable across retries."""

from __future__ import annotations

import uuid
from typing import Any

from htdag import Flow, TaskContext
from htdag.core.engine import AsyncEngine

from .._support import Db, running_worker


async def test_handlers_get_their_task_context(engine: AsyncEngine, db: Db) -> None:
    flow = Flow("ctx")
    seen: list[tuple[Any, ...]] = []

    @flow.step(map=True, base_delay=0, max_delay=0)
    def item(x: str, ctx: TaskContext) -> str:
        seen.append((x, ctx.run_id, ctx.step, ctx.task_index, ctx.attempt,
                     ctx.idempotency_key, ctx.task_id, ctx.is_cancelled))
        if x == "b" and ctx.attempt == 1:
            raise RuntimeError("flaky once")
        return x.upper()

    @flow.step(depends_on=["item"])
    async def after(inp: Any, ctx: TaskContext) -> str:
        seen.append(("after", ctx.run_id, ctx.step, ctx.task_index, ctx.attempt,
                     ctx.idempotency_key, ctx.task_id, ctx.is_cancelled))
        return "".join(inp["item"])

    async with running_worker(engine, [flow]):
        run = await engine.start(flow, ["a", "b"])
        assert await run.wait(timeout=10) == {"after": "AB"}

    rid = run.run_id
    task_ids = {(t["step_name"], t["task_index"]): t["task_id"] for t in await db.tasks(rid)}
    assert sorted(seen, key=lambda s: (s[0], s[4])) == [
        ("a", rid, "item", 0, 1, f"{rid}:item:0", task_ids["item", 0], False),
        ("after", rid, "after", 0, 1, f"{rid}:after:0", task_ids["after", 0], False),
        ("b", rid, "item", 1, 1, f"{rid}:item:1", task_ids["item", 1], False),
        ("b", rid, "item", 1, 2, f"{rid}:item:1", task_ids["item", 1], False),
    ]
    assert isinstance(rid, uuid.UUID)


async def test_a_handler_with_one_parameter_gets_no_context(engine: AsyncEngine) -> None:
    flow = Flow("noctx")
    calls: list[tuple[Any, ...]] = []

    @flow.step()
    def one(inp: Any, *, flag: bool = True) -> str:
        calls.append((inp, flag))
        return "ok"

    async with running_worker(engine, [flow]):
        assert await engine.run(flow, 5, timeout=10) == {"one": "ok"}
    assert calls == [({"run": 5}, True)]
