"""The bounds of StepOptions are what the database can hold and compute with:
the widest options are stored, and the last retry's delay (base_delay * 2 ^ 998,
capped) is computed without an overflow."""

from __future__ import annotations

from htdag.core.options import MAX_ATTEMPTS, MAX_SECONDS
from htdag.core.store import Store

from .._support import Db, claim, fail, flow_of, start


async def test_the_widest_options_are_stored_and_the_last_retry_waits_its_delay(
        store: Store, db: Db) -> None:
    widest = {"max_attempts": MAX_ATTEMPTS, "base_delay": MAX_SECONDS,
              "max_delay": MAX_SECONDS, "timeout": MAX_SECONDS, "priority": 2**31 - 1}
    run_id = await start(store, flow_of("widest", ("only", [], widest)))
    task = await db.task(run_id, "only")
    assert {k: task[k] for k in widest} == widest

    # As if all but two attempts had failed: the next failure is the last one retried.
    await db.execute("update htdag.tasks set attempts_count = %s where task_id = %s",
                     (MAX_ATTEMPTS - 2, task["task_id"]))
    (claimed,) = await claim(store)
    assert claimed.attempt == MAX_ATTEMPTS - 1
    await fail(store, claimed)

    task = await db.task(run_id, "only")
    assert task["status"] == "queued"
    waits = await db.value("select extract(epoch from available_at - now())::float"
                           " from htdag.tasks where task_id = %s", (task["task_id"],))
    assert MAX_SECONDS / 2 - 60 <= waits <= MAX_SECONDS  # max_delay, less up to half
