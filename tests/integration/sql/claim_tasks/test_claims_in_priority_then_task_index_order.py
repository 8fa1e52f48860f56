"""The ready set is served by priority, then by lower task index first, so a
run with a huge map step does not starve a run started after it."""

from __future__ import annotations

from htdag.core.store import Store

from ..._support import Db, claim, flow_of, start


async def test_a_higher_priority_task_is_claimed_first(store: Store) -> None:
    flow = flow_of("f", ("low", [], {"priority": -1}), ("normal", []),
                   ("high", [], {"priority": 5}))
    await start(store, flow, None)

    order = [(await claim(store, limit=1))[0].step_name for _ in range(3)]

    assert order == ["high", "normal", "low"]


async def test_a_later_runs_first_task_goes_before_a_big_map_steps_later_tasks(
        store: Store) -> None:
    big = await start(store, flow_of("big", ("m", [], {"map": True})), list(range(500)))
    small = await start(store, flow_of("small", ("only", [])), None)

    first = await claim(store, limit=2)
    second = await claim(store, limit=2)

    assert {(t.run_id, t.task_index) for t in first} == {(big, 0), (small, 0)}
    assert {(t.run_id, t.task_index) for t in second} == {(big, 1), (big, 2)}


async def test_a_task_not_yet_available_is_not_claimed(store: Store, db: Db) -> None:
    run_id = await start(store, flow_of("f", ("a", [])), None)
    await db.execute("update htdag.tasks set available_at = now() + interval '1 hour'")

    assert await claim(store) == []

    await db.execute("update htdag.tasks set available_at = now()")
    assert [t.run_id for t in await claim(store)] == [run_id]
