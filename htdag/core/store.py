"""The one place in Python that knows the SQL. Every other module calls these
methods; hot paths are one-line calls of the functions in sql/."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .db import Database


@dataclass(frozen=True)
class ClaimedTask:
    task_id: int
    claim_token: uuid.UUID
    run_id: uuid.UUID
    step_name: str
    task_index: int
    handler: str
    attempt: int
    timeout: float | None
    input: Any
    # Its step's: past this many seconds a second execution may start elsewhere
    # (the worker running it then announces it, so that idle workers claim it).
    hedge_after: float | None = None

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> ClaimedTask:
        """A claimed task as a push notification carries it (a row of claim_tasks)."""
        return cls(int(row["task_id"]), uuid.UUID(row["claim_token"]), uuid.UUID(row["run_id"]),
                   row["step_name"], int(row["task_index"]), row["handler"], int(row["attempt"]),
                   row["timeout"], row["input"], row.get("hedge_after"))


@dataclass(frozen=True)
class Completion:
    task_id: int
    claim_token: uuid.UUID
    output_json: str  # already serialized: the worker checks it is JSON and how big
    run_seconds: float | None = None  # how long the handler ran, as the worker measured


@dataclass(frozen=True)
class Failure:
    task_id: int
    claim_token: uuid.UUID
    error: str
    retryable: bool
    # Typed, for what follows the failure: "limit_reached" (a limit stopped the
    # handler) fails the task at once and, in a child run, its parent's task too.
    error_code: str | None = None
    run_seconds: float | None = None  # how long the handler ran, as the worker measured


_EVENT_COLUMNS = (
    "e.event_id, e.tx_id::text::bigint as tx_id, e.kind, e.run_id, e.root_run_id,"
    " e.step_name, e.task_index, e.created_at, e.attempt, e.worker_id, e.data"
)
_EVENT_FILTERS = (
    " (%(runs)s::uuid[] is null or e.run_id = any(%(runs)s::uuid[]))"
    " and (%(kinds)s::text[] is null or e.kind = any(%(kinds)s::text[]))"
)


def _history_query(tree: bool, after: str | None, stable: bool = False) -> str:
    """History in stream order, (tx_id, event_id): the latest ``limit`` (``after``
    None), or those after a position (``"position"``) or, for an id no longer in
    the table (pruned), after that id (``"id"``). The primary key serves them; with
    ``tree``, one tree of runs, the index of its root. ``stable``: only events no
    later commit can precede (see read_events)."""
    where = ("e.root_run_id = %(root)s and" if tree else "") + _EVENT_FILTERS
    if stable:
        where += " and e.tx_id < pg_snapshot_xmin(pg_current_snapshot())"
    if after is None:
        return (f"select * from (select {_EVENT_COLUMNS} from htdag.events e where {where}"
                " order by e.tx_id desc, e.event_id desc limit %(limit)s) t"
                " order by tx_id, event_id")
    bound = ("(e.tx_id, e.event_id) > (%(tx)s::text::xid8, %(id)s)" if after == "position"
             else "e.event_id > %(since)s")
    return (f"select {_EVENT_COLUMNS} from htdag.events e where {where} and {bound}"
            " order by e.tx_id, e.event_id limit %(limit)s")


_EXCHANGE = (
    "select * from htdag.worker_exchange(%s, %s, %s, %s::jsonb[], %s, %s, %s, %s, %s, %s, %s,"
    " %s, %s, %s::htdag.error_code[], %s::float8[], %s::float8[])"
)
# The usual exchange, without failures: four parameters fewer to adapt per call.
_EXCHANGE_NO_FAILURES = (
    "select * from htdag.worker_exchange(%s, %s, %s, %s::jsonb[], '{}', '{}', '{}', '{}',"
    " %s, %s, %s, %s, %s, p_done_seconds => %s::float8[])"
)


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _all(self, query: str, params: Sequence[Any] | Mapping[str, Any] = ()
                   ) -> list[dict[str, Any]]:
        return await self.db.rows(query, params)

    async def _value(self, query: str, params: Sequence[Any] = ()) -> Any:
        return await self.db.value(query, params)

    # definitions -----------------------------------------------------------

    async def add_flow(self, flow_hash: str, definition: dict[str, Any]) -> bool:
        return bool(await self._value("select htdag.add_flow(%s, %s)",
                                      (flow_hash, Jsonb(definition))))

    async def flow_by_name(self, name: str) -> dict[str, Any] | None:
        rows = await self._all(
            "select flow_hash, name, definition from htdag.flows where name = %s or flow_hash = %s"
            " order by created_at desc limit 1", (name, name))
        return rows[0] if rows else None

    # runs ------------------------------------------------------------------

    async def start_run(self, flow_hash: str, input_json: str,
                        parent_run_id: uuid.UUID | None = None, parent_task_id: int | None = None,
                        max_depth: int = 10, max_tasks: int | None = None) -> uuid.UUID:
        run_id = await self._value(
            "select htdag.start_run(%s, %s::jsonb, %s, %s, %s, %s)",
            (flow_hash, input_json, parent_run_id, parent_task_id, max_depth, max_tasks))
        assert isinstance(run_id, uuid.UUID)
        return run_id

    async def cancel_run(self, run_id: uuid.UUID) -> str:
        return str(await self._value("select htdag.cancel_run(%s)", (run_id,)))

    async def run_outcome(self, run_id: uuid.UUID) -> dict[str, Any] | None:
        rows = await self._all(
            "select status, output, error from htdag.runs where run_id = %s", (run_id,))
        return rows[0] if rows else None

    async def get_run(self, run_id: uuid.UUID) -> dict[str, Any] | None:
        rows = await self._all(
            "select r.*, f.name as flow_name from htdag.runs r"
            " join htdag.flows f using (flow_hash) where r.run_id = %s", (run_id,))
        return rows[0] if rows else None

    async def get_step_states(self, run_id: uuid.UUID) -> list[dict[str, Any]]:
        return await self._all(
            "select ss.* from htdag.step_states ss join htdag.steps s"
            " using (flow_hash, step_name) where ss.run_id = %s order by s.step_index", (run_id,))

    async def get_tasks(self, run_id: uuid.UUID) -> list[dict[str, Any]]:
        return await self._all(
            "select * from htdag.tasks where run_id = %s order by step_name, task_index", (run_id,))

    async def list_runs(self, status: str | None, flow_name: str | None, limit: int,
                        parent_run_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
        return await self._all(
            "select r.*, f.name as flow_name from htdag.runs r join htdag.flows f using (flow_hash)"
            " where (%(status)s::htdag.run_status is null or r.status = %(status)s)"
            " and (%(flow)s::text is null or f.name = %(flow)s)"
            " and (%(parent)s::uuid is null or r.parent_run_id = %(parent)s)"
            " order by r.started_at desc limit %(limit)s",
            {"status": status, "flow": flow_name, "limit": limit, "parent": parent_run_id})

    async def run_listing(self, status: str | None, goal: str | None, flow_name: str | None,
                          roots_only: bool, limit: int, root_run_id: uuid.UUID | None = None
                          ) -> list[dict[str, Any]]:
        """Runs for people and scripts, newest first, without inputs or outputs: the
        goal (a planner run's input) and flow name; ``goal`` matches a substring of
        the goal (of the flow name for a run without one), ignoring case;
        ``root_run_id`` keeps one run tree."""
        return await self._all(
            "select r.run_id, r.status, r.flow_hash, f.name as flow_name,"
            " r.input->>'goal' as goal, r.parent_run_id, r.root_run_id, r.depth,"
            " r.started_at, coalesce(r.completed_at, r.failed_at, r.cancelled_at) as finished_at,"
            " r.error_code from htdag.runs r join htdag.flows f using (flow_hash)"
            " where (%(status)s::htdag.run_status is null or r.status = %(status)s)"
            " and (%(flow)s::text is null or f.name = %(flow)s)"
            " and (not %(roots)s or r.parent_run_id is null)"
            " and (%(root)s::uuid is null or r.root_run_id = %(root)s)"
            " and (%(goal)s::text is null or strpos(lower(coalesce("
            "case jsonb_typeof(r.input) when 'object' then r.input->>'goal' end, f.name)),"
            " lower(%(goal)s)) > 0)"
            " order by r.started_at desc, r.run_id limit %(limit)s",
            {"status": status, "goal": goal, "flow": flow_name, "roots": roots_only,
             "root": root_run_id, "limit": limit})

    async def list_workers(self) -> list[dict[str, Any]]:
        return await self._all("select * from htdag.workers order by started_at desc")

    # workers -----------------------------------------------------------------

    async def register_worker(self, worker_id: uuid.UUID, hostname: str, pid: int,
                              handlers: list[str], concurrency: int,
                              lease_seconds: float) -> None:
        await self._value("select htdag.register_worker(%s, %s, %s, %s, %s, %s)",
                          (worker_id, hostname, pid, handlers, concurrency, lease_seconds))

    async def stop_worker(self, worker_id: uuid.UUID) -> None:
        await self._value("select htdag.stop_worker(%s)", (worker_id,))

    async def exchange(self, worker_id: uuid.UUID, done: Sequence[Completion],
                       failed: Sequence[Failure], claim_limit: int, handlers: list[str] | None,
                       lease_seconds: float, accept_pushes: bool = False,
                       pushes_seen: int = 0, conn: psycopg.AsyncConnection[Any] | None = None
                       ) -> list[ClaimedTask]:
        """Completes, fails and claims in one round trip and one transaction. A worker
        that accepts pushes is sent ready tasks while its claim comes back short;
        ``pushes_seen`` counts the pushed tasks it has heard of. ``conn``: a
        connection of the caller's (a worker keeps one for its exchanges), else one
        from the pool."""
        done_part: tuple[Any, ...] = (
            worker_id, [c.task_id for c in done], [c.claim_token for c in done],
            [c.output_json for c in done])
        claim_part = (claim_limit, handlers, lease_seconds, accept_pushes, pushes_seen)
        done_seconds = [c.run_seconds for c in done]
        if failed:
            query = _EXCHANGE
            params = (*done_part, [f.task_id for f in failed], [f.claim_token for f in failed],
                      [f.error for f in failed], [f.retryable for f in failed], *claim_part,
                      [f.error_code for f in failed], done_seconds,
                      [f.run_seconds for f in failed])
        else:
            query, params = _EXCHANGE_NO_FAILURES, (*done_part, *claim_part, done_seconds)
        async with (self.db.pool.connection() if conn is None
                    else contextlib.nullcontext(conn)) as using:
            cur = await using.execute(query, params)
            return [ClaimedTask(*row) for row in await cur.fetchall()]

    async def claim_tasks(self, worker_id: uuid.UUID, limit: int, handlers: list[str] | None,
                          lease_seconds: float) -> list[ClaimedTask]:
        return await self.exchange(worker_id, (), (), limit, handlers, lease_seconds)

    async def complete_tasks(self, done: Sequence[Completion]) -> list[int]:
        return list(await self._value(
            "select done from htdag.complete_tasks(%s, %s, %s::jsonb[],"
            " p_run_seconds => %s::float8[])",
            ([c.task_id for c in done], [c.claim_token for c in done],
             [c.output_json for c in done], [c.run_seconds for c in done])))

    async def fail_tasks(self, failed: Sequence[Failure]) -> list[int]:
        return list(await self._value(
            "select htdag.fail_tasks(%s, %s, %s, %s, %s::htdag.error_code[], %s::float8[])",
            ([f.task_id for f in failed], [f.claim_token for f in failed],
             [f.error for f in failed], [f.retryable for f in failed],
             [f.error_code for f in failed], [f.run_seconds for f in failed])))

    async def extend_leases(self, worker_id: uuid.UUID, held: Sequence[tuple[int, uuid.UUID]],
                            lease_seconds: float) -> set[int]:
        return set(await self._value(
            "select htdag.extend_leases(%s, %s, %s, %s)",
            (worker_id, [t for t, _ in held], [k for _, k in held], lease_seconds)))

    async def wait_for_runs(self, waits: Sequence[tuple[int, uuid.UUID, uuid.UUID]]) -> list[int]:
        """(task id, claim token, child run id): the tasks wait for their child runs."""
        return list(await self._value(
            "select htdag.wait_for_runs(%s, %s, %s)",
            ([t for t, _, _ in waits], [k for _, k, _ in waits], [r for _, _, r in waits])))

    async def release_tasks(self, held: Sequence[tuple[int, uuid.UUID]]) -> list[int]:
        return list(await self._value(
            "select htdag.release_tasks(%s, %s)", ([t for t, _ in held], [k for _, k in held])))

    async def release_unheard_tasks(self, worker_id: uuid.UUID, known: Sequence[int],
                                    pushes_seen: int) -> list[int]:
        """Requeues tasks pushed to the worker that it does not know of."""
        return list(await self._value("select htdag.release_unheard_tasks(%s, %s, %s)",
                                      (worker_id, list(known), pushes_seen)))

    # planning records --------------------------------------------------------

    async def record_event(self, kind: str, run_id: uuid.UUID | None,
                           data: dict[str, Any]) -> int:
        return int(await self._value("select htdag.record_event(%s, %s, %s)",
                                     (kind, run_id, Jsonb(data))))

    # events ------------------------------------------------------------------

    async def read_events(self, after: tuple[int, int], upto: tuple[int, int] | None,
                          root_run_id: uuid.UUID | None, limit: int) -> list[dict[str, Any]]:
        """Stable events after a (tx_id, event_id) position, in order."""
        return await self._all(
            "select * from htdag.read_events(%s::text::xid8, %s, %s::text::xid8, %s, %s, %s)",
            (str(after[0]), after[1], None if upto is None else str(upto[0]),
             None if upto is None else upto[1], root_run_id, limit))

    async def event_position(self, event_id: int) -> tuple[int, int] | None:
        rows = await self._all(
            "select tx_id::text::bigint as tx_id from htdag.events where event_id = %s",
            (event_id,))
        return (int(rows[0]["tx_id"]), event_id) if rows else None

    async def stable_head(self) -> tuple[int, int]:
        """The position of the last event no later commit can precede."""
        rows = await self._all(
            "select e.tx_id::text::bigint as tx_id, e.event_id from htdag.events e"
            " where e.tx_id < pg_snapshot_xmin(pg_current_snapshot())"
            " order by e.tx_id desc, e.event_id desc limit 1")
        return (int(rows[0]["tx_id"]), int(rows[0]["event_id"])) if rows else (0, 0)

    async def run_tree(self, run_id: uuid.UUID) -> tuple[uuid.UUID, list[uuid.UUID]] | None:
        """The root of a run and the run with all its descendants."""
        rows = await self._all(
            "with recursive tree as ("
            " select run_id, root_run_id from htdag.runs where run_id = %s"
            " union all select r.run_id, r.root_run_id from htdag.runs r"
            " join tree t on r.parent_run_id = t.run_id)"
            " select run_id, root_run_id from tree", (run_id,))
        if not rows:
            return None
        return rows[0]["root_run_id"], [r["run_id"] for r in rows]

    async def recent_events(self, run_ids: list[uuid.UUID] | None, kinds: list[str] | None,
                            since_id: int | None, limit: int,
                            root_run_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
        """History in stream order: after event ``since_id``, or else the latest
        ``limit``. ``root_run_id``: the root of ``run_ids``, whose index finds them."""
        params: dict[str, Any] = {"runs": run_ids, "kinds": kinds, "since": since_id,
                                  "limit": limit, "root": root_run_id}
        tree = root_run_id is not None
        if since_id is None:
            return await self._all(_history_query(tree, None), params)
        position = await self.event_position(since_id)
        if position is None:
            return await self._all(_history_query(tree, "id"), params)
        params.update(tx=str(position[0]), id=position[1])
        return await self._all(_history_query(tree, "position"), params)

    async def stable_tail(self, run_ids: list[uuid.UUID] | None, kinds: list[str] | None,
                          limit: int, root_run_id: uuid.UUID | None = None
                          ) -> list[dict[str, Any]]:
        """The last ``limit`` events no later commit can precede, in stream order."""
        return await self._all(
            _history_query(root_run_id is not None, None, stable=True),
            {"runs": run_ids, "kinds": kinds, "limit": limit, "root": root_run_id})

    async def prune_events(self, older_than_seconds: float) -> int:
        return int(await self._value("select htdag.prune_events(make_interval(secs => %s))",
                                     (older_than_seconds,)))

    async def hedge_straggler(self, task_id: int, claim_token: uuid.UUID,
                              here: bool = False) -> uuid.UUID | None:
        """Asks for a second execution of a task still running past its step's
        hedge_after: on the asking worker itself (``here``), else pushed to an
        idle worker, else every worker is woken to claim it. Returns the hedge
        token given (None when refused, or left to a claim)."""
        token: uuid.UUID | None = await self._value(
            "select htdag.hedge_straggler(%s, %s, %s)", (task_id, claim_token, here))
        return token

    async def prune_attempts(self, older_than_seconds: float | None) -> int:
        return int(await self._value(
            "select htdag.prune_attempts(make_interval(secs => %s))", (older_than_seconds,)))

    async def handler_stats(self, since: datetime | None) -> list[dict[str, Any]]:
        return await self._all("select * from htdag.handler_stats(%s)", (since,))

    async def attempt_metrics(self, handler: str | None, key: str | None,
                              since: datetime | None, limit: int) -> list[dict[str, Any]]:
        return await self._all("select * from htdag.attempt_metrics(%s, %s, %s, %s)",
                               (handler, key, since, limit))

    async def set_concurrency_limit(self, key: str, max_running: int | None) -> int | None:
        value = await self._value("select htdag.set_concurrency_limit(%s, %s)",
                                  (key, max_running))
        return None if value is None else int(value)

    async def concurrency_limits(self) -> dict[str, int]:
        rows = await self._all("select key, max_running from htdag.concurrency_limits"
                               " order by key", ())
        return {r["key"]: int(r["max_running"]) for r in rows}

    async def set_setting(self, key: str, value: Any) -> None:
        await self._value(
            "insert into htdag.settings (key, value) values (%s, %s)"
            " on conflict (key) do update set value = excluded.value returning value",
            (key, Jsonb(value)))

    async def get_setting(self, key: str) -> Any:
        return await self._value("select value from htdag.settings where key = %s", (key,))
