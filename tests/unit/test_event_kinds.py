"""Event kinds and the Event model: what a kind filter accepts, what it refuses,
and what an event looks like as JSON and as a line of text."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from htdag import HtdagError
from htdag.notifications import Event, EventKind, UnknownEventKindError, parse_kinds
from htdag.notifications.events import CATEGORIES, RUN_FINISHED

ISSUE_KINDS = {
    "run.started", "run.completed", "run.failed", "run.cancelled",
    "step.started", "step.completed", "step.failed",
    "task.started", "task.completed", "task.failed", "task.retrying", "task.timed_out",
    "worker.joined", "worker.lost",
}


def an_event(**changes: object) -> Event:
    fields: dict[str, object] = {
        "id": 42, "kind": "task.retrying", "run_id": uuid.UUID(int=1),
        "root_run_id": uuid.UUID(int=2), "step": "square", "task_index": 3,
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC),
        "data": {"attempt": 2, "error": "boom", "available_at": None}}
    fields.update(changes)
    return Event(**fields)  # type: ignore[arg-type]


def test_every_kind_the_issue_names_is_a_kind() -> None:
    assert ISSUE_KINDS <= {k.value for k in EventKind}


def test_the_planning_layer_has_kinds_of_its_own() -> None:
    assert {"decomposition", "subgoal", "optimizer"} <= CATEGORIES
    assert parse_kinds("subgoal") == {"subgoal.submitted", "subgoal.completed", "subgoal.failed"}


def test_the_plan_cache_s_hits_misses_and_evictions_are_kinds() -> None:
    assert parse_kinds("cache") == {"cache.hit", "cache.miss", "cache.evicted"}


def test_every_kind_is_category_dot_name_as_the_table_requires() -> None:
    for kind in EventKind:
        category, _, name = kind.value.partition(".")
        assert category and name and kind.category == category
        assert all(c.islower() or c == "_" for c in category + name), kind


def test_a_run_is_finished_by_completed_failed_or_cancelled_only() -> None:
    assert RUN_FINISHED == {"run.completed", "run.failed", "run.cancelled"}


def test_no_filter_means_every_kind() -> None:
    assert parse_kinds(None) is None


def test_a_single_kind_is_a_set_of_that_kind() -> None:
    assert parse_kinds("task.failed") == {"task.failed"}


def test_a_category_expands_to_all_its_kinds() -> None:
    assert parse_kinds("run") == {"run.started", "run.completed", "run.failed", "run.cancelled"}
    assert parse_kinds("worker") == {"worker.joined", "worker.stopped", "worker.lost"}


def test_kinds_and_categories_mix_in_one_filter() -> None:
    chosen = parse_kinds(["step", "task.failed", "run.completed"])
    assert chosen == {"step.started", "step.completed", "step.failed",
                      "task.failed", "run.completed"}


def test_kinds_can_be_any_iterable() -> None:
    assert parse_kinds(k for k in ("run.failed", "run.failed")) == {"run.failed"}
    assert parse_kinds([]) == frozenset()


@pytest.mark.parametrize("bad", ["task.exploded", "tasks", "Task.failed", "", "task.", ".failed"])
def test_an_unknown_kind_is_a_clear_error(bad: str) -> None:
    with pytest.raises(UnknownEventKindError) as err:
        parse_kinds(["run.started", bad])
    message = str(err.value)
    assert repr(bad) in message
    assert "task.failed" in message and "worker" in message  # says what would do


def test_an_unknown_kind_error_is_an_htdag_error_and_a_value_error() -> None:
    with pytest.raises(HtdagError):
        parse_kinds("nope")
    with pytest.raises(ValueError):
        parse_kinds("nope")


def test_an_event_turns_into_json_with_ids_as_strings() -> None:
    event = an_event()
    as_json = event.to_json()
    assert as_json == {
        "id": 42, "kind": "task.retrying", "run_id": str(uuid.UUID(int=1)),
        "root_run_id": str(uuid.UUID(int=2)), "step": "square", "task_index": 3,
        "created_at": "2026-01-02T03:04:05.678900+00:00",
        "data": {"attempt": 2, "error": "boom", "available_at": None}}
    assert json.loads(json.dumps(as_json)) == as_json


def test_a_worker_event_has_no_run_in_json() -> None:
    event = an_event(kind="worker.joined", run_id=None, root_run_id=None, step=None,
                     task_index=None, data={"worker_id": "w"})
    as_json = event.to_json()
    assert (as_json["run_id"], as_json["root_run_id"], as_json["step"]) == (None, None, None)


def test_an_event_prints_as_one_line_with_its_id_kind_and_where() -> None:
    text = str(an_event())
    assert "\n" not in text
    assert text.startswith("#42 03:04:05.678900 task.retrying")
    assert f"run={str(uuid.UUID(int=1))[:8]}" in text
    assert "step=square[3]" in text
    assert "attempt=2" in text and "error=boom" in text
    assert "available_at" not in text  # None values are left out


def test_events_compare_by_content_not_by_transaction() -> None:
    assert an_event(tx_id=1) == an_event(tx_id=2)
    assert an_event(tx_id=7).position == (7, 42)


def test_an_event_is_built_from_a_table_row() -> None:
    row = {"event_id": 5, "tx_id": 900, "kind": "run.started", "run_id": uuid.UUID(int=1),
           "root_run_id": uuid.UUID(int=1), "step_name": None, "task_index": None,
           "created_at": datetime(2026, 1, 1, tzinfo=UTC), "data": None}
    event = Event.from_row(row)
    assert (event.id, event.kind, event.position, event.data) == (
        5, "run.started", (900, 5), {})
