"""Synthetic recorded attempts for the learners' tests: columns with defaults."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from htdag.optimizer.samples import Attempts


def attempts(duration: Sequence[float] | np.ndarray, *,
             outcome: Sequence[str] | np.ndarray | None = None,
             task_id: Sequence[int] | np.ndarray | None = None,
             attempt: Sequence[int] | np.ndarray | None = None,
             concurrency: Sequence[int] | np.ndarray | None = None,
             fingerprint: Sequence[str] | np.ndarray | None = None,
             run_seconds: Sequence[float] | np.ndarray | None = None) -> Attempts:
    """Attempts with the given columns; the rest: one task each, first attempts,
    all ``ok``, concurrency 1, no fingerprint, no run time recorded, started one
    second apart."""
    n = len(duration)
    return Attempts(
        task_id=np.asarray(np.arange(n) if task_id is None else task_id, dtype=np.int64),
        attempt=np.asarray(np.ones(n) if attempt is None else attempt, dtype=np.int64),
        outcome=np.asarray(["ok"] * n if outcome is None else outcome, dtype=str),
        duration=np.asarray(duration, dtype=np.float64),
        queue_wait=np.zeros(n),
        started_at=np.arange(n, dtype=np.float64),
        concurrency=np.asarray(np.ones(n) if concurrency is None else concurrency,
                               dtype=np.int64),
        fingerprint=np.asarray([""] * n if fingerprint is None else fingerprint, dtype=str),
        run_seconds=np.full(n, np.nan) if run_seconds is None else np.asarray(
            run_seconds, dtype=np.float64),
    )
