"""What the peer benchmarks share: output lines, vacuuming, and (from benchmarks/)
the quantiles of ``_stats.py`` and the throwaway databases of ``_databases.py``.

The peer scripts run with the peers' virtualenv (``.venv-peers``), which has
psycopg but not htdag, so nothing here imports htdag or ``benchmarks/run_all.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _databases, _stats
from _databases import fresh_database
from _stats import quantile

__all__ = ["figure", "fresh_database", "note", "quantile", "vacuum"]


def note(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


def figure(name: str, value: float | int, unit: str) -> None:
    """One ``name value unit`` line on stdout, as ``benchmarks/run_all.py`` prints."""
    text = str(value) if isinstance(value, int) else f"{value:.3f}".rstrip("0").rstrip(".")
    print(f"{name} {text} {unit}", flush=True)


def vacuum(url: str, tables: list[str]) -> None:
    """``vacuum (analyze)`` of ``tables``, as htdag's benchmark does before its latency
    and chain figures: a throughput pass leaves dead rows that are not what one
    more job costs."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("vacuum (analyze) {}").format(
            sql.SQL(", ").join(sql.Identifier(t) for t in tables)))
