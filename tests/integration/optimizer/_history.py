"""Recorded attempts with durations and errors of our choosing, made through
the engine's own transitions (claim, complete, fail): what the optimizer reads."""

from __future__ import annotations

import json
from collections.abc import Sequence

from htdag.core.definitions import Flow
from htdag.core.store import Completion, Failure, Store

from .._support import WORKER_A, Db


async def record_history(store: Store, db: Db, handler: str,
                         durations: Sequence[float], errors: Sequence[str | None] | None = None,
                         key: str | None = None, attempts: int = 1) -> None:
    """One task per duration, run by ``handler`` (with ``key``), that took that
    many seconds on each of its ``attempts`` and then completed, or failed with
    its error on every attempt (errors[i] not None)."""
    flow = Flow(f"history of {handler}")
    options = {"concurrency_key": key} if key else {}
    flow.add_step("s", handler, map=True, max_attempts=attempts, base_delay=0, max_delay=0,
                  **options)
    await store.add_flow(flow.hash, flow.to_definition())
    await store.start_run(flow.hash, json.dumps(list(range(len(durations)))), None)
    errs = list(errors) if errors is not None else [None] * len(durations)
    for _ in range(attempts):
        claimed = await store.claim_tasks(WORKER_A, len(durations), [handler], 30)
        if not claimed:
            return
        for task in claimed:
            took = durations[task.task_index]
            await db.execute("update htdag.tasks set started_at = now() - make_interval("
                             "secs => %s) where task_id = %s", (took, task.task_id))
            error = errs[task.task_index]
            if error is None:
                await store.complete_tasks([Completion(task.task_id, task.claim_token, "1")])
            else:
                await store.fail_tasks([Failure(task.task_id, task.claim_token, error, True)])
