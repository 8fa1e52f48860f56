"""htdag's read models keep their tables out of ``SQLModel.metadata``: a user's
``create_all()`` creates the user's tables and nothing of htdag's."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy
from sqlmodel import Field, SQLModel

import htdag.core.models  # noqa: F401 - the read models are defined by importing them


@pytest.fixture
def user_table() -> Iterator[type[SQLModel]]:
    class Invoice(SQLModel, table=True):
        id: int | None = Field(default=None, primary_key=True)
        amount: float

    try:
        yield Invoice
    finally:  # out of the process-wide metadata, for the tests after this one
        SQLModel.metadata.remove(Invoice.__table__)  # type: ignore[attr-defined]


def test_create_all_on_an_empty_database_creates_only_the_user_s_table(
    empty_dsn: str, user_table: type[SQLModel]
) -> None:
    engine = sqlalchemy.create_engine(empty_dsn.replace("postgresql://", "postgresql+psycopg://",
                                                        1))
    try:
        SQLModel.metadata.create_all(engine)
    finally:
        engine.dispose()
    with psycopg.connect(empty_dsn) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema not in ('pg_catalog', 'information_schema')").fetchall()
        schemas = conn.execute(
            "select nspname from pg_namespace where nspname = 'htdag'").fetchall()
    assert tables == [("public", "invoice")]
    assert schemas == []
