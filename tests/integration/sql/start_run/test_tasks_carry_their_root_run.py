"""A task carries its run's root (tasks.root_run_id), which its events take from
the row: a child run's tasks name the root of the whole tree."""

from __future__ import annotations

from htdag.core.store import Store

from ..._support import Db, claim, flow_of, start


async def test_a_child_runs_tasks_and_their_events_name_the_root(store: Store, db: Db) -> None:
    root = await start(store, flow_of("parent", ("p", [])), None)
    child = await start(store, flow_of("child", ("c", [])), None, parent_run_id=root)

    await claim(store)  # task.started for both

    tasks = await db.rows("select run_id, root_run_id from htdag.tasks order by task_id")
    assert tasks == [{"run_id": root, "root_run_id": root},
                     {"run_id": child, "root_run_id": root}]
    events = await db.rows("select run_id, root_run_id from htdag.events"
                           " where kind = 'task.started' order by event_id")
    assert {(e["run_id"], e["root_run_id"]) for e in events} == {(root, root), (child, root)}

