"""Connections: which database (a URL, or the embedded default), the pool,
and the migrations that bring its schema up to date on connect."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import select
import time
import weakref
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from .errors import DatabaseError

URL_VARIABLES = ("HTDAG_DATABASE_URL", "DATABASE_URL")
MIGRATION_LOCK_KEY = 0x48_54_44_41_47  # "HTDAG": one migrator at a time


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class FunctionFile:
    name: str
    sql: str


SqlDir = Traversable | Path


def _sql_dir(sql_dir: SqlDir | None) -> SqlDir:
    return sql_dir if sql_dir is not None else resources.files("htdag.core").joinpath("sql")


def load_migrations(sql_dir: SqlDir | None = None) -> list[Migration]:
    """The numbered files in sql/, in order. Released files are never edited: a
    change to the tables is a new file. Functions live in sql/functions/ (see
    load_function_files); a change to one comes with a new numbered file too."""
    found = []
    for entry in _sql_dir(sql_dir).iterdir():
        match = re.fullmatch(r"(\d{4})_(.+)\.sql", entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    return found


def load_function_files(sql_dir: SqlDir | None = None) -> list[FunctionFile]:
    """sql/functions/<name>.sql, by name: each function's current definition
    (CREATE OR REPLACE FUNCTION), applied after the numbered files whenever they
    bring a database forward. Older definitions stay in the numbered files that
    introduced them, as history."""
    folder = _sql_dir(sql_dir).joinpath("functions")
    if not folder.is_dir():
        return []
    found = [FunctionFile(entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
             for entry in folder.iterdir() if entry.name.endswith(".sql")]
    return sorted(found, key=lambda f: f.name)


def functions_checksum(files: list[FunctionFile]) -> str:
    """One SHA-256 over every function file (names and contents)."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.sql.encode() + b"\0")
    return digest.hexdigest()


async def _applied_version(conn: psycopg.AsyncConnection) -> int:
    try:
        cur = await conn.execute("select coalesce(max(version), 0) from htdag.migrations")
    except psycopg.errors.UndefinedTable:
        return 0
    except psycopg.errors.InvalidSchemaName:
        return 0
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def apply_migrations(conn: psycopg.AsyncConnection, up_to: int | None = None,
                           sql_dir: SqlDir | None = None) -> list[str]:
    """Applies missing migrations in one transaction under an advisory lock,
    so processes connecting at once neither race nor apply anything twice.
    Returns the names applied (empty when up to date).

    When numbered files were applied, every function file is applied after
    them (CREATE OR REPLACE: the functions become those of this version). A
    process of an older version finds the database ahead of it and changes
    nothing, so it never puts back older functions.

    ``up_to`` stops at that version and skips the function files: benchmarks
    compare a schema with an older one (for a version that has function files,
    pass ``sql_dir``, that version's sql/ folder, instead)."""
    migrations = [m for m in load_migrations(sql_dir) if up_to is None or m.version <= up_to]
    latest = migrations[-1].version
    if await _applied_version(conn) >= latest:
        return []
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        await conn.execute(
            "create schema if not exists htdag;"
            "create table if not exists htdag.migrations ("
            " version int primary key, name text not null,"
            " applied_at timestamptz not null default now())")
        current = await _applied_version(conn)
        for m in migrations:
            if m.version <= current:
                continue
            await conn.execute(m.sql.encode())  # no parameters: simple protocol, many statements
            await conn.execute("insert into htdag.migrations (version, name) values (%s, %s)",
                               (m.version, m.name))
            applied.append(f"{m.version:04d}_{m.name}")
        if applied and up_to is None:
            for f in load_function_files(sql_dir):
                await conn.execute(f.sql.encode())
    return applied


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


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
