"""start_run refuses a flow hash that is not stored, and an unknown parent run."""

from __future__ import annotations

import uuid

import pytest

from htdag.core.store import Store
from htdag.errors import UnknownFlowError, UnknownRunError

from ..._support import Db, flow_of


async def test_an_unknown_flow_raises_unknown_flow_error(store: Store, db: Db) -> None:
    with pytest.raises(UnknownFlowError, match="unknown flow nope"):
        await store.start_run("nope", "{}")
    assert await db.value("select count(*) from htdag.runs") == 0


async def test_an_unknown_parent_run_raises_unknown_run_error(store: Store, db: Db) -> None:
    flow = flow_of("f", ("a", []))
    await store.add_flow(flow.hash, flow.to_definition())
    with pytest.raises(UnknownRunError):
        await store.start_run(flow.hash, "{}", uuid.uuid4())
    assert await db.value("select count(*) from htdag.runs") == 0
