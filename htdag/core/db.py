"""Connections: which database (a URL, or the embedded default), the pool,
and the migrations that bring its schema up to date on connect."""

from __future__ import annotations

import asyncio
import os
import re
import select
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from .errors import DatabaseError, from_db_error

URL_VARIABLES = ("HTDAG_DATABASE_URL", "DATABASE_URL")
MIGRATION_LOCK_KEY = 0x48_54_44_41_47  # "HTDAG": one migrator at a time


@dataclass(frozen=True)
class Layer:
    """A layer's SQL, in a folder. Its tables: ``schema/*.sql`` (types and tables,
    then indexes), applied to a database without the layer; a database of an
    earlier version gets ``migrations/NNNN_<what>.sql`` instead, which change
    tables and types only. Its code: ``functions/<name>.sql`` (one function each)
    and ``rules/*.sql`` (state rules and triggers, which call the functions),
    re-created from the files whenever a layer is applied or migrated, so a
    function is defined in one file only. The schema files are always the tables
    of the latest migration (version 1 when there is none). A released migration
    is never edited: a table change is a new migration and the same change to
    the schema files (tests/migration compares the two)."""

    name: str
    folder: Traversable | Path

    def tables(self) -> list[SqlFile]:
        return _sql_files(self.folder.joinpath("schema"))

    def code(self) -> list[SqlFile]:
        return _sql_files(self.folder.joinpath("functions")) + \
            _sql_files(self.folder.joinpath("rules"))

    def baseline(self) -> list[SqlFile]:
        """What a database without the layer gets: its tables, then its code."""
        return self.tables() + self.code()

    def function_names(self) -> set[str]:
        return {f.name for f in _sql_files(self.folder.joinpath("functions"))}

    def migrations(self) -> list[Migration]:
        found = []
        for f in _sql_files(self.folder.joinpath("migrations")):
            match = re.fullmatch(r"(\d{4})_(.+)", f.name)
            if not match or int(match[1]) < 2:
                raise ValueError(f"{self.name}: migrations/{f.name}.sql should be named "
                                 "NNNN_<what>.sql with NNNN from 0002 (1 is the baseline)")
            found.append(Migration(int(match[1]), match[2], f.sql))
        return found

    def latest_version(self) -> int:
        return max((m.version for m in self.migrations()), default=1)


@dataclass(frozen=True)
class SqlFile:
    name: str
    sql: str


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


CORE = Layer("core", resources.files("htdag.core").joinpath("sql"))
# Decompositions of goals and the planning event kinds: on top of the core, which
# knows nothing of them (only this list names the folder).
PLANNING = Layer("planning", resources.files("htdag").joinpath("sql", "planning"))
LAYERS: tuple[Layer, ...] = (CORE, PLANNING)


def _sql_files(folder: Traversable | Path) -> list[SqlFile]:
    if not folder.is_dir():
        return []
    found = [SqlFile(entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
             for entry in folder.iterdir() if entry.name.endswith(".sql")]
    return sorted(found, key=lambda f: f.name)


async def _applied_versions(conn: psycopg.AsyncConnection[Any]) -> dict[str, int]:
    try:
        cur = await conn.execute("select layer, max(version) from htdag.migrations group by layer")
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
        return {}
    except psycopg.errors.UndefinedColumn:
        raise DatabaseError(
            "this database holds an htdag schema from a development build before schema "
            "version 1, which cannot be upgraded: drop it (drop schema htdag cascade) or "
            "use a fresh database (for the embedded one: htdag db stop, then delete its "
            "data directory)") from None
    return {str(layer): int(version) for layer, version in await cur.fetchall()}


async def apply_migrations(conn: psycopg.AsyncConnection[Any],
                           layers: tuple[Layer, ...] = LAYERS) -> list[str]:
    """Brings each layer, in order, to its latest version, in one transaction
    under an advisory lock, so processes connecting at once neither race nor apply
    anything twice; ``conn`` must be in autocommit mode. A layer the database lacks
    gets its tables, recorded at its latest version; a layer at an earlier version
    gets the migrations after it, each recorded. Then, if anything was applied,
    the layers' functions, state rules and triggers are re-created from their
    files. A database ahead of this package (a newer process migrated it) is left
    alone. Returns what was applied (``core:baseline``, ``core:0002_<what>``),
    empty when up to date."""
    wanted = {layer.name: layer.latest_version() for layer in layers}
    found = await _applied_versions(conn)
    if all(found.get(name, 0) >= version for name, version in wanted.items()):
        return []
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        await conn.execute(
            "create schema if not exists htdag;"
            "create table if not exists htdag.migrations ("
            " layer text not null, version int not null, name text not null,"
            " applied_at timestamptz not null default now(), primary key (layer, version))")
        current = await _applied_versions(conn)
        for layer in layers:
            applied.extend(await _bring_tables_forward(conn, layer, current.get(layer.name, 0)))
        if applied:
            await _recreate_code(conn, layers)
    return applied


async def _bring_tables_forward(conn: psycopg.AsyncConnection[Any], layer: Layer,
                                version: int) -> list[str]:
    if version == 0:
        for f in layer.tables():
            await conn.execute(f.sql.encode())  # no parameters: simple protocol, many statements
        await _record(conn, layer, layer.latest_version(), "baseline")
        return [f"{layer.name}:baseline"]
    applied = []
    for m in layer.migrations():
        if m.version > version:
            await conn.execute(m.sql.encode())
            await _record(conn, layer, m.version, m.name)
            applied.append(f"{layer.name}:{m.version:04d}_{m.name}")
    return applied


async def _recreate_code(conn: psycopg.AsyncConnection[Any], layers: tuple[Layer, ...]) -> None:
    """Drops the functions of ``layers`` (and those no layer defines any more), with
    the rules and triggers that call them, then creates them from the files: a
    function's signature, body and settings are those of its file, and no
    overload or removed function lingers."""
    given = {layer.name for layer in layers}
    others = set().union(*(layer.function_names() for layer in LAYERS
                           if layer.name not in given))
    cur = await conn.execute(
        "select p.oid::regprocedure::text, p.proname from pg_proc p"
        " join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'htdag'")
    for signature, name in await cur.fetchall():
        if name not in others:
            await conn.execute(f"drop function if exists {signature} cascade".encode())
    for layer in layers:
        for f in layer.code():
            await conn.execute(f.sql.encode())


async def _record(conn: psycopg.AsyncConnection[Any], layer: Layer, version: int,
                  name: str) -> None:
    await conn.execute("insert into htdag.migrations (layer, version, name) values (%s, %s, %s)",
                       (layer.name, version, name))


def apply_migrations_sync(url: str) -> list[str]:
    """For scripts and test fixtures outside an event loop."""

    async def run() -> list[str]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return await apply_migrations(conn)

    return asyncio.run(run())


def resolve_url(url: str | None = None) -> str:
    """An explicit URL, else HTDAG_DATABASE_URL, else DATABASE_URL, else the
    embedded server (started if needed, shared by every process of the user)."""
    if url:
        return url
    for name in URL_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    from . import embedded

    try:
        return embedded.ensure_server()
    except Exception as exc:  # any start failure gets one clear error
        from .errors import EmbeddedServerError

        raise EmbeddedServerError(
            f"could not start the embedded PostgreSQL ({exc}); set HTDAG_DATABASE_URL to "
            "use another server") from exc


IDLE_CHECK_SECONDS = 2.0
# While the server is down, how often the pool tries to connect again (psycopg_pool
# would back off 1, 2, 4, 8... s): a caller waiting for a connection gets one within
# this long of the server accepting connections again.
RECONNECT_SECONDS = 0.5
_checked_out_at: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], float] = (
    weakref.WeakKeyDictionary())


def _has_input(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle pooled connection has something to read, without a round
    trip. Nothing is due on one (it runs no query and listens on nothing), so input
    is the server's goodbye: a terminated session, a shutdown, or the socket's end."""
    try:
        fd = conn.fileno()
    except psycopg.Error:
        return True
    if hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


async def _check_if_idle(conn: psycopg.AsyncConnection[Any]) -> None:
    """Pings a pooled connection before use if its last use began a while ago or
    the server sent it something (its end, see _has_input): one that a restart or
    an administrator closed is then replaced instead of failing the call, and the
    hot path (connections in constant use) pays no extra round trip. Measured from
    the last checkout, not the last return: the pool runs a ``reset`` callback in
    a background task, which costs every call a hand-over between tasks (and a
    connection checked out long ago just costs one ping)."""
    now = time.monotonic()
    if _has_input(conn) or now - _checked_out_at.get(conn, 0.0) > IDLE_CHECK_SECONDS:
        await conn.execute("")
    _checked_out_at[conn] = now


def _new_pool(url: str, min_size: int, max_size: int) -> AsyncConnectionPool:
    """A pool that replaces dead connections without waiting.

    psycopg_pool retries a getconn whose check failed at once the first time, then
    after 1, 2, 4, 8 s: with every connection dead (a restart, a failover, sessions
    killed), the next call waited for each in turn, up to its 30 s timeout. So the
    first failed check has the pool check all its idle connections (``check()``:
    the dead ones are replaced at once) before psycopg_pool's immediate retry,
    which then gets a live or a new connection. And a reconnection that keeps
    failing gives up after RECONNECT_SECONDS (``reconnect_timeout``) and starts
    again at once while callers wait (``reconnect_failed``), instead of backing off
    to 16 s and more."""

    async def check(conn: psycopg.AsyncConnection[Any]) -> None:
        try:
            await _check_if_idle(conn)
        except psycopg.Error:
            await pool.check()  # its neighbours most likely died with it
            raise

    async def reconnect_failed(_: AsyncConnectionPool) -> None:
        # Without callers, the pool stays short until the next one: its first
        # connection attempt is made at once, and the pool grows back to its size.
        if pool.get_stats().get("requests_waiting", 0):
            await pool.check()  # grows the pool: a new connection attempt at once

    pool = AsyncConnectionPool(url, min_size=min_size, max_size=max_size, open=False,
                               kwargs={"autocommit": True}, check=check,
                               reconnect_timeout=RECONNECT_SECONDS,
                               reconnect_failed=reconnect_failed)
    return pool


class Database:
    """A pool of autocommit connections to a migrated htdag database."""

    def __init__(self, url: str, pool: AsyncConnectionPool) -> None:
        self.url = url
        self.pool = pool

    @classmethod
    async def open(cls, url: str | None = None, *, min_size: int = 1,
                   max_size: int = 10) -> Database:
        resolved = url if url else await asyncio.to_thread(resolve_url, None)
        try:
            async with await psycopg.AsyncConnection.connect(resolved, autocommit=True) as conn:
                await apply_migrations(conn)
        except psycopg.OperationalError as exc:
            raise DatabaseError(f"cannot connect to {redact(resolved)}: {exc}".strip()) from exc
        pool = _new_pool(resolved, min_size, max_size)
        await pool.open(wait=True, timeout=30)
        return cls(resolved, pool)

    async def close(self) -> None:
        await self.pool.close()

    async def rows(self, query: str, params: Sequence[Any] | Mapping[str, Any] = ()
                   ) -> list[dict[str, Any]]:
        """A statement's rows as dicts, on a pooled connection; a database error
        comes out as htdag's typed error for it (from_db_error)."""
        try:
            async with self.pool.connection() as conn:
                cur = conn.cursor(row_factory=dict_row)
                await cur.execute(query, params)
                return await cur.fetchall()
        except psycopg.Error as exc:
            raise from_db_error(exc) from exc

    async def value(self, query: str, params: Sequence[Any] = ()) -> Any:
        """The first column of a statement's first row (None without a row)."""
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(query, params)
                row = await cur.fetchone()
                return row[0] if row else None
        except psycopg.Error as exc:
            raise from_db_error(exc) from exc


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
