"""add_flow stores a definition, its steps and dependencies once per content hash."""

from __future__ import annotations

from htdag.core.store import Store

from ..._support import Db, flow_of


async def test_the_first_add_stores_flow_steps_and_deps(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []), ("b", ["a"], {"map": True, "max_attempts": 7}),
                   ("c", ["a", "b"], {"priority": 3, "timeout": 1.5}))

    assert await store.add_flow(flow.hash, flow.to_definition()) is True

    stored = await db.row("select * from htdag.flows")
    assert stored["flow_hash"] == flow.hash
    assert stored["name"] == "f"
    assert stored["definition"] == flow.to_definition()
    steps = await db.rows("select * from htdag.steps order by step_index")
    assert [(s["step_name"], s["step_index"], s["kind"], s["deps_count"]) for s in steps] == [
        ("a", 0, "single", 0), ("b", 1, "map", 1), ("c", 2, "single", 2)]
    assert steps[1]["max_attempts"] == 7 and steps[1]["handler"] == "h.b"
    assert steps[2]["priority"] == 3 and steps[2]["timeout"] == 1.5
    deps = await db.rows("select step_name, dep_name from htdag.deps order by 1, 2")
    assert [(d["step_name"], d["dep_name"]) for d in deps] == [("b", "a"), ("c", "a"), ("c", "b")]


async def test_adding_the_same_hash_again_changes_nothing(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []), ("b", ["a"]))
    assert await store.add_flow(flow.hash, flow.to_definition()) is True
    created = await db.value("select created_at from htdag.flows")

    assert await store.add_flow(flow.hash, flow.to_definition()) is False

    assert await db.value("select count(*) from htdag.flows") == 1
    assert await db.value("select count(*) from htdag.steps") == 2
    assert await db.value("select count(*) from htdag.deps") == 1
    assert await db.value("select created_at from htdag.flows") == created


async def test_a_changed_option_is_stored_as_another_flow_of_the_same_name(
        store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []))
    changed = flow.with_options({"a": {"max_attempts": 9}})
    assert await store.add_flow(flow.hash, flow.to_definition()) is True
    assert await store.add_flow(changed.hash, changed.to_definition()) is True

    rows = await db.rows("select s.max_attempts from htdag.flows f join htdag.steps s"
                         " using (flow_hash) where f.name = 'f' order by s.max_attempts")
    assert [r["max_attempts"] for r in rows] == [3, 9]
    latest = await store.flow_by_name("f")
    assert latest is not None and latest["flow_hash"] == changed.hash
