"""Recorded attempts as columns: what every learner reads.

The database is read in one place (``htdag.optimizer.metrics``); learners are
pure functions over these arrays, so each is tested on synthetic samples with a
known answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class OutcomeClass(StrEnum):
    """What an attempt came to, as the optimizer classes it."""

    OK = "ok"  # completed
    ERROR = "error"  # the handler raised (or returned what cannot be stored)
    TIMEOUT = "timeout"  # the step's timeout ran out
    LOST = "lost"  # its worker died or went silent: says nothing of the handler
    CANCELLED = "cancelled"  # given back (a worker's shutdown) or its run was cancelled


@dataclass(frozen=True)
class Attempts:
    """Finished attempts of one handler (or concurrency key), oldest first.

    ``started_at`` is in seconds (epoch); ``duration`` (from the claim to the
    report) and ``queue_wait`` in seconds; ``run_seconds`` how long the handler
    itself ran, as its worker measured (NaN where not recorded);
    ``concurrency`` is how many attempts of the same handler (or key) were
    running when it started, itself included; ``fingerprint`` is the
    normalised error (``Type: message`` with numbers and ids replaced), ``""``
    for attempts without an error. ``task_id`` and ``attempt`` tie the
    attempts of one task together (attempt 1 is the first)."""

    task_id: npt.NDArray[np.int64]
    attempt: npt.NDArray[np.int64]
    outcome: npt.NDArray[np.str_]  # OutcomeClass values
    duration: npt.NDArray[np.float64]
    queue_wait: npt.NDArray[np.float64]
    started_at: npt.NDArray[np.float64]
    concurrency: npt.NDArray[np.int64]
    fingerprint: npt.NDArray[np.str_]
    step: npt.NDArray[np.str_] = field(default=None)  # type: ignore[arg-type]
    run_seconds: npt.NDArray[np.float64] = field(default=None)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        import numpy as np

        n = len(self.task_id)
        if self.step is None:
            object.__setattr__(self, "step", np.full(n, "", dtype=str))
        if self.run_seconds is None:
            object.__setattr__(self, "run_seconds", np.full(n, np.nan))
        for name in _COLUMNS[1:]:
            if len(getattr(self, name)) != n:
                raise ValueError(f"Attempts.{name} has {len(getattr(self, name))} values, "
                                 f"task_id {n}: give every column one value per attempt")

    def __len__(self) -> int:
        return len(self.task_id)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> Attempts:
        """From rows of (task_id, attempt, outcome, duration, queue_wait,
        started_at, concurrency, fingerprint[, step[, run_seconds]]); a
        run_seconds of None is NaN."""
        import numpy as np

        cols = list(zip(*rows, strict=True)) if rows else [()] * 8
        step = cols[8] if len(cols) > 8 else None
        run = cols[9] if len(cols) > 9 else None
        return cls(
            task_id=np.asarray(cols[0], dtype=np.int64),
            attempt=np.asarray(cols[1], dtype=np.int64),
            outcome=np.asarray([str(o) for o in cols[2]], dtype=str),
            duration=np.asarray(cols[3], dtype=np.float64),
            queue_wait=np.asarray(cols[4], dtype=np.float64),
            started_at=np.asarray(cols[5], dtype=np.float64),
            concurrency=np.asarray(cols[6], dtype=np.int64),
            fingerprint=np.asarray([f or "" for f in cols[7]], dtype=str),
            step=None if step is None else np.asarray(step, dtype=str),  # type: ignore[arg-type]
            run_seconds=None if run is None else np.asarray(  # type: ignore[arg-type]
                [np.nan if r is None else r for r in run], dtype=np.float64),
        )

    def where(self, mask: npt.NDArray[np.bool_]) -> Attempts:
        """The attempts where ``mask`` is true."""
        return Attempts(**{name: getattr(self, name)[mask] for name in _COLUMNS})

    def ok_durations(self) -> npt.NDArray[np.float64]:
        """Durations of the attempts that completed."""
        ok: npt.NDArray[np.float64] = self.duration[self.outcome == OutcomeClass.OK.value]
        return ok

    def ok_run_seconds(self) -> npt.NDArray[np.float64]:
        """How long the handler ran in the attempts that completed, as its
        worker measured: what a step's timeout and hedge delay are counted
        against. The duration stands in where no run time was recorded."""
        import numpy as np

        completed = self.outcome == OutcomeClass.OK.value
        run, duration = self.run_seconds[completed], self.duration[completed]
        ok: npt.NDArray[np.float64] = np.where(np.isnan(run), duration, run)
        return ok


#: The columns of Attempts, task_id first.
_COLUMNS = ("task_id", "attempt", "outcome", "duration", "queue_wait", "started_at",
            "concurrency", "fingerprint", "step", "run_seconds")
