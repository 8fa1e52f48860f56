"""A root map step needs an array as run input; anything else fails the run
with a message naming the step."""

from __future__ import annotations

from typing import Any

import pytest

from htdag.core.store import Store

from ..._support import Db, flow_of, start


@pytest.mark.parametrize(("value", "kind"), [({"a": 1}, "object"), (5, "number"),
                                             ("abc", "string"), (None, "null")])
async def test_a_root_map_over_a_non_array_fails_the_run_naming_the_step(
        store: Store, db: Db, value: Any, kind: str) -> None:
    flow = flow_of("f", ("single", []), ("squares", [], {"map": True}))

    run_id = await start(store, flow, value)

    run = await db.run(run_id)
    assert run["status"] == "failed"
    assert run["error"]["step"] == "squares"
    assert "map step 'squares' needs an array" in run["error"]["message"]
    assert f"got {kind}" in run["error"]["message"]
    assert (await db.step(run_id, "squares"))["status"] == "failed"
    # the other root step's task was created before, and is cancelled, never left queued
    tasks = await db.tasks(run_id)
    assert [(t["step_name"], t["status"]) for t in tasks] == [("single", "cancelled")]
    assert (await db.step(run_id, "single"))["status"] == "cancelled"
