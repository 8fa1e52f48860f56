"""Test databases: a real PostgreSQL server, never mocks.

* ``server_url`` (session): ``HTDAG_TEST_DSN`` if set, else an embedded server in
  ``$HTDAG_HOME/test-pgdata`` or a session temp dir. A server this session
  started is stopped at the end.
* ``template_database`` (session): ``htdag_test_template_<pid>``, migrated once
  with ``htdag.core.db.apply_migrations_sync``, dropped at the end.
* ``dsn`` (function): URL of a fresh database copied from the template (a copy
  is much cheaper than migrating), dropped ``WITH (FORCE)`` afterwards.
* ``empty_dsn`` (function): URL of a fresh database without the schema, for tests
  of the migrations themselves.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from _db import admin_connect, create_database, drop_database, with_database
from psycopg import sql

TEMPLATE_PREFIX = "htdag_test_template_"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of the server the tests run against (its maintenance database)."""
    configured = os.environ.get("HTDAG_TEST_DSN")
    if configured:
        yield configured
        return

    from htdag.core import embedded

    home = os.environ.get("HTDAG_HOME")
    temp_root = None if home else Path(tempfile.mkdtemp(prefix="htdag-test-"))
    pgdata = Path(home) / "test-pgdata" if home else Path(str(temp_root)) / "pgdata"
    started_here = not embedded.server_status(pgdata)["running"]
    url = embedded.ensure_server(pgdata)
    try:
        yield url
    finally:
        if started_here:
            embedded.stop_server(pgdata)
        if temp_root is not None:
            shutil.rmtree(temp_root, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(server_url: str) -> Iterator[str]:
    """Name of a migrated database that ``dsn`` copies."""
    _drop_stale_templates(server_url)
    name = f"{TEMPLATE_PREFIX}{os.getpid()}"
    _drop_template(server_url, name)
    create_database(server_url, name)
    try:
        # Imported here: collecting tests must not depend on the engine importing.
        from htdag.core.db import apply_migrations_sync

        apply_migrations_sync(with_database(server_url, name))
        with admin_connect(server_url) as conn:
            # No connections from now on, so copying it never finds it busy.
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                    sql.Identifier(name)
                )
            )
        yield name
    finally:
        _drop_template(server_url, name)


@pytest.fixture
def dsn(server_url: str, template_database: str) -> Iterator[str]:
    """URL of a fresh, migrated database of its own for one test."""
    name = f"htdag_test_{uuid.uuid4().hex}"
    create_database(server_url, name, template=template_database)
    try:
        yield with_database(server_url, name)
    finally:
        drop_database(server_url, name)


@pytest.fixture
def empty_dsn(server_url: str) -> Iterator[str]:
    """URL of a fresh database with no schema at all (for migration tests)."""
    name = f"htdag_test_empty_{uuid.uuid4().hex}"
    create_database(server_url, name)
    try:
        yield with_database(server_url, name)
    finally:
        drop_database(server_url, name)


def _drop_template(server_url: str, name: str) -> None:
    with admin_connect(server_url) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(sql.Identifier(name))
            )
    drop_database(server_url, name)


def _drop_stale_templates(server_url: str) -> None:
    """Drop templates left by sessions on this machine that died before their teardown."""
    with admin_connect(server_url) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            (TEMPLATE_PREFIX + "%",),
        ).fetchall()
    for (name,) in rows:
        match = re.fullmatch(re.escape(TEMPLATE_PREFIX) + r"(\d+)", str(name))
        if match and not _pid_alive(int(match.group(1))):
            _drop_template(server_url, str(name))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
