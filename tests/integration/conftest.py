"""Fixtures for the core engine's integration tests, on top of ``dsn`` (a fresh
migrated database per test, from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

import htdag
from htdag.core.engine import AsyncEngine
from htdag.core.store import Store

from ._support import Db


@pytest.fixture
async def engine(dsn: str) -> AsyncIterator[AsyncEngine]:
    eng = await AsyncEngine.connect(dsn, pool_size=8)
    try:
        yield eng
    finally:
        await eng.close()


@pytest.fixture
def sync_engine(dsn: str) -> Iterator[htdag.Engine]:
    """The sync facade on the test database."""
    eng = htdag.connect(dsn)
    try:
        yield eng
    finally:
        eng.close()


@pytest.fixture
def store(engine: AsyncEngine) -> Store:
    return engine.store


@pytest.fixture
async def db(dsn: str) -> AsyncIterator[Db]:
    """Direct SQL on the test database, for setting up and checking rows."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        yield Db(conn)
