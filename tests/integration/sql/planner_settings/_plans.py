"""Plans of the statements a function runs, as the server chose them.

A session with auto_explain loaded logs the plan of every statement it runs,
those inside functions and triggers included, as a NOTICE to the client: the
plan a call actually used, cached plans included (EXPLAIN of a copy of the
query would plan it afresh and miss them)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import psycopg

from htdag import Flow


class Plans:
    """The plans logged on one connection since the last ``clear``."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.logged: list[str] = []
        conn.add_notice_handler(self._notice)

    def _notice(self, diag: psycopg.errors.Diagnostic) -> None:
        message = diag.message_primary or ""
        if "Query Text:" in message:
            self.logged.append(message)

    def clear(self) -> None:
        self.logged.clear()

    def of(self, *fragments: str) -> list[str]:
        """Plans (without their query text) of the statements whose text holds
        every fragment."""
        return [_split(p)[1] for p in self.logged
                if all(f in _split(p)[0] for f in fragments)]

    def one(self, *fragments: str) -> str:
        found = self.of(*fragments)
        assert len(found) == 1, (fragments, self.logged)
        return found[0]


def _split(logged: str) -> tuple[str, str]:
    """(query text, plan) of a logged plan: the plan starts at its first node."""
    lines = logged.split("\n")
    for i, line in enumerate(lines):
        if "(cost=" in line:
            return "\n".join(lines[:i]), "\n".join(lines[i:])
    return logged, ""


@contextlib.contextmanager
def explaining(dsn: str) -> Iterator[tuple[Plans, psycopg.Connection[Any]]]:
    """A session (autocommit) whose every statement's plan is captured, and
    another one (autocommit, no capture) for the rest of the world."""
    with psycopg.connect(dsn, autocommit=True) as conn, \
            psycopg.connect(dsn, autocommit=True) as other:
        for setting in ("load 'auto_explain'",
                        "set auto_explain.log_min_duration = 0",
                        "set auto_explain.log_nested_statements = on",
                        "set auto_explain.log_level = notice"):
            conn.execute(setting)
        yield Plans(conn), other


def signature(conn: psycopg.Connection[Any], function: str) -> str:
    row = conn.execute("select oid::regprocedure::text from pg_proc"
                       " where pronamespace = 'htdag'::regnamespace and proname = %s",
                       (function,)).fetchone()
    assert row is not None, function
    return str(row[0])


def without_planner_settings(dsn: str, function: str, *kept: str | None) -> None:
    """Drops the function's planner settings but the ``kept`` ones (as
    "name = value"); it keeps its search_path."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        sig = signature(conn, function)
        conn.execute(f"alter function {sig} reset all")
        for setting in ("search_path = ''", *(k for k in kept if k)):
            conn.execute(f"alter function {sig} set {setting}")


def add_flow(conn: psycopg.Connection[Any], flow: Flow) -> str:
    conn.execute("select htdag.add_flow(%s, %s::jsonb)",
                 (flow.hash, json.dumps(flow.to_definition())))
    return flow.hash


def start_run(conn: psycopg.Connection[Any], flow_hash: str, input: Any) -> Any:
    row = conn.execute("select htdag.start_run(%s, %s::jsonb)",
                       (flow_hash, json.dumps(input))).fetchone()
    assert row is not None
    return row[0]


def queue_many_tasks(conn: psycopg.Connection[Any], runs: int = 20, tasks: int = 1000) -> None:
    """A burst of queued tasks (runs of a map step), with no analyze after it: the
    statistics and the plans cached so far still describe the tables before it."""
    flow = Flow("burst")
    flow.add_step("m", "h.m", map=True)
    flow_hash = add_flow(conn, flow)
    for _ in range(runs):
        start_run(conn, flow_hash, list(range(tasks)))


WARM_UP_CALLS = 8
"""Calls that make plpgsql cache a generic plan (it plans five custom ones first)."""
