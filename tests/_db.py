"""Helpers for the test database fixtures: real servers, plain sync psycopg."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

ADMIN_CONNECT_TIMEOUT = 10


def with_database(url: str, dbname: str) -> str:
    """Return ``url`` with its database name replaced by ``dbname``.

    Handles TCP URLs (``postgresql://user@host:port/db``) and unix-socket URLs whose
    host is in the query (``postgresql://user@/db?host=/sock&port=5432``); the
    query (host, port, sslmode, ...) and credentials are kept as they are.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    query = parts.query
    if "dbname=" in query:  # a dbname parameter would override the path
        pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "dbname"]
        query = urlencode(pairs, safe="/")
    return urlunsplit(parts._replace(path="/" + quote(dbname, safe=""), query=query))


def admin_connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection for CREATE/DROP DATABASE (they refuse transactions)."""
    return psycopg.connect(url, autocommit=True, connect_timeout=ADMIN_CONNECT_TIMEOUT)


def drop_database(admin_url: str, dbname: str) -> None:
    """``DROP DATABASE IF EXISTS ... WITH (FORCE)``: disconnects leftover sessions."""
    with admin_connect(admin_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


def create_database(admin_url: str, dbname: str, template: str | None = None) -> None:
    """Create ``dbname``, optionally as a copy of ``template``.

    Copying refuses while anyone is connected to the template ("source database is
    being accessed by other users"), e.g. a pool the migrations left open a moment
    longer; such sessions are ended and the copy retried.
    """
    if template is None:
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
    else:
        stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(dbname), sql.Identifier(template)
        )
    deadline = time.monotonic() + 30
    with admin_connect(admin_url) as conn:
        while True:
            try:
                conn.execute(stmt)
                return
            except psycopg.errors.ObjectInUse:
                if template is None or time.monotonic() > deadline:
                    raise
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (template,),
                )
                time.sleep(0.1)
