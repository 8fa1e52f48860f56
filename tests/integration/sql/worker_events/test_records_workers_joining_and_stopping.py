"""The workers trigger records worker.joined when a worker registers and
worker.stopped when it stops; worker events belong to no run."""

from __future__ import annotations

from htdag.core.store import Store

from ..._event_support import kinds_of, table_events
from ..._support import WORKER_A, WORKER_B, Db


async def test_registering_records_worker_joined_with_the_workers_details(
        store: Store, db: Db) -> None:
    await store.register_worker(WORKER_A, "box-1", 4242, ["h.a", "h.b"], 8, 30.0)

    [joined] = await table_events(db)
    assert joined["kind"] == "worker.joined"
    assert (joined["run_id"], joined["root_run_id"], joined["step_name"]) == (None, None, None)
    assert joined["data"] == {"worker_id": str(WORKER_A), "hostname": "box-1", "pid": 4242,
                              "concurrency": 8}


async def test_stopping_records_worker_stopped_once(store: Store, db: Db) -> None:
    await store.register_worker(WORKER_A, "box-1", 1, ["h.a"], 1, 30.0)
    await store.register_worker(WORKER_B, "box-2", 2, ["h.a"], 1, 30.0)
    await store.stop_worker(WORKER_A)
    await store.stop_worker(WORKER_A)  # already stopped: nothing new

    events = await table_events(db)
    assert kinds_of(events) == ["worker.joined", "worker.joined", "worker.stopped"]
    assert events[-1]["data"]["worker_id"] == str(WORKER_A)
    assert events[-1]["data"]["hostname"] == "box-1"


async def test_a_heartbeat_records_nothing(store: Store, db: Db) -> None:
    await store.register_worker(WORKER_A, "box-1", 1, ["h.a"], 1, 30.0)
    for _ in range(3):
        await store.extend_leases(WORKER_A, [], 30.0)

    assert kinds_of(await table_events(db)) == ["worker.joined"]
