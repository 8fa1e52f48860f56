"""A worker whose last heartbeat is older than its lease is marked lost by the
next heartbeat of any peer (extend_leases), which records worker.lost once."""

from __future__ import annotations

from htdag.core.store import Store

from ..._event_support import kinds_of, table_events
from ..._support import WORKER_A, WORKER_B, Db

SILENT = "update htdag.workers set last_heartbeat_at = now() - %s::interval where worker_id = %s"


async def test_a_worker_silent_for_longer_than_its_lease_is_recorded_lost(
        store: Store, db: Db) -> None:
    await store.register_worker(WORKER_A, "box-a", 1, ["h.a"], 1, 10.0)
    await store.register_worker(WORKER_B, "box-b", 2, ["h.a"], 1, 10.0)
    await db.execute(SILENT, ("11 seconds", WORKER_A))

    await store.extend_leases(WORKER_B, [], 10.0)

    events = await table_events(db)
    assert kinds_of(events) == ["worker.joined", "worker.joined", "worker.lost"]
    lost = events[-1]["data"]
    assert (lost["worker_id"], lost["hostname"], lost["pid"]) == (str(WORKER_A), "box-a", 1)
    assert lost["last_heartbeat_at"] is not None
    assert (await db.row("select lost_at from htdag.workers where worker_id = %s",
                         (WORKER_A,)))["lost_at"] is not None


async def test_a_worker_within_its_lease_is_not_lost(store: Store, db: Db) -> None:
    await store.register_worker(WORKER_A, "box-a", 1, ["h.a"], 1, 10.0)
    await store.register_worker(WORKER_B, "box-b", 2, ["h.a"], 1, 10.0)
    await db.execute(SILENT, ("9 seconds", WORKER_A))

    await store.extend_leases(WORKER_B, [], 10.0)

    assert kinds_of(await table_events(db)) == ["worker.joined", "worker.joined"]


async def test_a_lost_worker_is_recorded_lost_once_however_many_peers_heartbeat(
        store: Store, db: Db) -> None:
    await store.register_worker(WORKER_A, "box-a", 1, ["h.a"], 1, 1.0)
    await store.register_worker(WORKER_B, "box-b", 2, ["h.a"], 1, 30.0)
    await db.execute(SILENT, ("1 hour", WORKER_A))

    for _ in range(3):
        await store.extend_leases(WORKER_B, [], 30.0)

    assert kinds_of(await table_events(db)).count("worker.lost") == 1


async def test_a_lost_worker_that_heartbeats_again_can_be_lost_again(
        store: Store, db: Db) -> None:
    await store.register_worker(WORKER_A, "box-a", 1, ["h.a"], 1, 1.0)
    await store.register_worker(WORKER_B, "box-b", 2, ["h.a"], 1, 30.0)
    await db.execute(SILENT, ("1 hour", WORKER_A))
    await store.extend_leases(WORKER_B, [], 30.0)

    await store.extend_leases(WORKER_A, [], 1.0)  # it was only slow: back
    assert (await db.row("select lost_at from htdag.workers where worker_id = %s",
                         (WORKER_A,)))["lost_at"] is None
    await db.execute(SILENT, ("1 hour", WORKER_A))
    await store.extend_leases(WORKER_B, [], 30.0)

    assert kinds_of(await table_events(db)) == [
        "worker.joined", "worker.joined", "worker.lost", "worker.lost"]


async def test_a_stopped_worker_is_never_recorded_lost(store: Store, db: Db) -> None:
    await store.register_worker(WORKER_A, "box-a", 1, ["h.a"], 1, 1.0)
    await store.register_worker(WORKER_B, "box-b", 2, ["h.a"], 1, 30.0)
    await store.stop_worker(WORKER_A)
    await db.execute(SILENT, ("1 hour", WORKER_A))

    await store.extend_leases(WORKER_B, [], 30.0)

    assert kinds_of(await table_events(db)) == [
        "worker.joined", "worker.joined", "worker.stopped"]
