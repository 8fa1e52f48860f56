"""The queries that find where a stream starts and what happened lately are
answered from the event table's indexes, not by sorting the whole log: the
log grows with every transition, and every new listener and `htdag events`
runs them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from htdag.core.engine import AsyncEngine
from htdag.core.store import Store
from htdag.notifications import aget_recent_events, alisten
from htdag.notifications.stream import stable_tail

from .._support import Db, flow_of

ROWS = 20_000


@pytest.fixture
async def large_log(db: Db) -> None:
    await db.execute("insert into htdag.events (kind) select 'optimizer.applied'"
                     " from generate_series(1, %s)", (ROWS,))
    await db.execute("analyze htdag.events")


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """The queries the store runs on htdag.events (run as usual, and noted)."""
    seen: list[tuple[str, Any]] = []
    original = Store._all

    async def noting(self: Store, query: str, params: Any = ()) -> list[dict[str, Any]]:
        if "htdag.events" in query:
            seen.append((query, params))
        return await original(self, query, params)

    monkeypatch.setattr(Store, "_all", noting)
    return seen


async def plan_nodes(db: Db, query: str, params: Any) -> list[str]:
    value = await db.value("explain (format json) " + query, params)
    plan = (json.loads(value) if isinstance(value, str) else value)[0]["Plan"]

    def walk(node: dict[str, Any]) -> list[str]:
        here = f"{node['Node Type']} {node.get('Relation Name') or node.get('Index Name') or ''}"
        return [here.strip()] + [n for child in node.get("Plans", []) for n in walk(child)]

    return walk(plan)


def reads_the_whole_log(nodes: list[str]) -> bool:
    return any("Seq Scan" in n for n in nodes)


async def test_the_head_of_a_new_stream_is_found_from_the_position_index(
        engine: AsyncEngine, db: Db, large_log: None,
        recorded: list[tuple[str, Any]]) -> None:
    stream = alisten(engine, idle_timeout=0.01)
    assert [e async for e in stream] == []
    [(query, params)] = [(q, p) for q, p in recorded if "pg_snapshot_xmin" in q
                         and "read_events" not in q]

    nodes = await plan_nodes(db, query, params)
    assert not reads_the_whole_log(nodes), nodes


async def test_the_latest_events_are_read_from_the_index(
        engine: AsyncEngine, db: Db, large_log: None,
        recorded: list[tuple[str, Any]]) -> None:
    latest = await aget_recent_events(engine, limit=5)
    assert len(latest) == 5
    [(query, params)] = recorded

    nodes = await plan_nodes(db, query, params)
    assert not reads_the_whole_log(nodes), nodes


async def test_history_after_an_id_finds_that_event_from_an_index(
        engine: AsyncEngine, db: Db, large_log: None,
        recorded: list[tuple[str, Any]]) -> None:
    since = int(await db.value("select max(event_id) - 3 from htdag.events"))
    after = await aget_recent_events(engine, since_id=since)
    assert [e.id for e in after] == [since + 1, since + 2, since + 3]
    assert len(recorded) == 2  # where the id stands, then what follows it

    for query, params in recorded:
        nodes = await plan_nodes(db, query, params)
        assert not reads_the_whole_log(nodes), nodes


async def test_the_history_of_a_run_is_read_from_its_roots_index(
        engine: AsyncEngine, db: Db, recorded: list[tuple[str, Any]]) -> None:
    flow = flow_of("f", ("a", []))
    run = await engine.start(flow, None)
    await db.execute("insert into htdag.events (kind, root_run_id) select 'optimizer.applied',"
                     " gen_random_uuid() from generate_series(1, %s)", (ROWS,))
    await db.execute("analyze htdag.events")

    latest = await aget_recent_events(engine, run.run_id, limit=5)
    assert [e.kind for e in latest] == ["run.started", "step.started"]
    after = await aget_recent_events(engine, run.run_id, since_id=latest[0].id)
    assert after == latest[1:]
    tail = await stable_tail(engine, run.run_id, None, 1)
    assert tail == latest[1:]
    queries = [(q, p) for q, p in recorded if "root_run_id =" in q]
    assert len(queries) == 3

    for query, params in queries:
        nodes = await plan_nodes(db, query, params)
        # Not the whole log: neither a scan of the table nor a walk of the primary key.
        assert any("events_root_idx" in n for n in nodes), nodes
