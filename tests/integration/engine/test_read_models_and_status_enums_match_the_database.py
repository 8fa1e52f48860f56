"""The read models and the status enums say what the live database holds: each
model has exactly its table's columns, nullable where the model allows None,
and each status enum has exactly the labels of its PostgreSQL enum type."""

from __future__ import annotations

import inspect
import re
import types
import typing
from enum import StrEnum
from typing import Any

import psycopg
import pytest
from sqlmodel import SQLModel

from htdag.core import status
from htdag.core.models import Run, StepState, Task, WorkerInfo

READ_MODELS = [Run, StepState, Task, WorkerInfo]
STATUS_ENUMS = [cls for _, cls in inspect.getmembers(status, inspect.isclass)
                if issubclass(cls, StrEnum) and cls.__module__ == status.__name__]


def allows_none(annotation: Any) -> bool | None:
    """Whether a field's type allows None; None for Any (it says nothing)."""
    if annotation is Any:
        return None
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return type(None) in typing.get_args(annotation)
    return False


def columns(dsn: str, table: str) -> dict[str, bool]:
    """The table's columns: name -> nullable."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select column_name, is_nullable = 'YES' from information_schema.columns"
            " where table_schema = 'htdag' and table_name = %s", (table,)).fetchall()
    return dict(rows)


@pytest.mark.parametrize("model", READ_MODELS, ids=lambda m: m.__name__)
def test_a_read_model_has_exactly_its_table_s_columns(dsn: str, model: type[SQLModel]) -> None:
    table = model.__table__  # type: ignore[attr-defined]
    assert table.schema == "htdag"
    in_database = columns(dsn, table.name)
    assert in_database, f"htdag.{table.name} does not exist"
    assert sorted(model.model_fields) == sorted(in_database)


@pytest.mark.parametrize("model", READ_MODELS, ids=lambda m: m.__name__)
def test_a_read_model_allows_none_exactly_where_its_table_allows_null(
    dsn: str, model: type[SQLModel]
) -> None:
    in_database = columns(dsn, model.__table__.name)  # type: ignore[attr-defined]
    says = {name: allows_none(field.annotation) for name, field in model.model_fields.items()}
    mismatched = {name: (optional, in_database.get(name)) for name, optional in says.items()
                  if optional is not None and optional != in_database.get(name)}
    assert mismatched == {}, "field: (model allows None, column nullable)"


def test_every_status_enum_is_checked() -> None:
    assert {e.__name__ for e in STATUS_ENUMS} >= {"RunStatus", "StepStatus", "TaskStatus",
                                                  "StepKind"}


@pytest.mark.parametrize("enum", STATUS_ENUMS, ids=lambda e: e.__name__)
def test_a_status_enum_has_exactly_the_labels_of_its_postgresql_type(
    dsn: str, enum: type[StrEnum]
) -> None:
    type_name = re.sub(r"(?<!^)(?=[A-Z])", "_", enum.__name__).lower()  # RunStatus: run_status
    with psycopg.connect(dsn) as conn:
        labels = [label for (label,) in conn.execute(
            "select e.enumlabel from pg_enum e join pg_type t on t.oid = e.enumtypid"
            " where t.typnamespace = 'htdag'::regnamespace and t.typname = %s"
            " order by e.enumsortorder", (type_name,))]
    assert labels, f"htdag has no enum type {type_name} for {enum.__name__}"
    assert [member.value for member in enum] == labels
