"""Throwaway databases for the benchmarks: needs only psycopg, so the peers'
virtualenv (benchmarks/peers/, without htdag) uses it too."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql


def with_database(url: str, dbname: str) -> str:
    """``url`` with its database replaced (TCP URLs and unix-socket URLs alike)."""
    parts = urlsplit(url)
    query = parts.query
    if "dbname=" in query:  # a dbname parameter would override the path
        pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "dbname"]
        query = urlencode(pairs, safe="/")
    return urlunsplit(parts._replace(path="/" + quote(dbname, safe=""), query=query))


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(name)))


def create_database(admin_url: str, name: str) -> None:
    """Creates ``name`` on the server of ``admin_url`` (dropping a leftover first)."""
    drop_database(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


@contextlib.contextmanager
def fresh_database(admin_url: str, name: str) -> Iterator[str]:
    """Creates ``name``, yields its URL and drops it at the end, whatever happened."""
    create_database(admin_url, name)
    try:
        yield with_database(admin_url, name)
    finally:
        drop_database(admin_url, name)
