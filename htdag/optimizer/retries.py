"""Learned retries: which failures a retry cures, and which it never does.

A failure is named by its fingerprint (the exception type and normalised message;
``"timeout"`` for attempts cut by a timeout). Each task whose attempt failed with a
fingerprint and that was tried again is one piece of evidence: *recovered* when a
later attempt of it succeeded, *repeated* when every later attempt failed again
with the same fingerprint. A fingerprint is deterministic, fail fast after one
attempt, when at least ``min_tasks`` tasks repeated it and none recovered from it;
transient when some task recovered from it. ``"timeout"`` is never deterministic:
a hung call says nothing of the next one, and the timeout itself is learned.
Lost and cancelled attempts say nothing of the handler and are left out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .learner_errors import InvalidLearnerSetting
from .samples import Attempts, OutcomeClass

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: The learned ``max_attempts`` never goes above this (unless the static one does):
#: a transient failure that needs more tries than this is an outage, which the retry
#: budget, not more attempts, should absorb.
MAX_LEARNED_ATTEMPTS = 10
#: The fingerprint of attempts cut by a timeout.
TIMEOUT_FINGERPRINT = "timeout"
#: The fingerprint given to errors recorded without one.
UNKNOWN_ERROR = "<error without a fingerprint>"


@dataclass(frozen=True)
class FingerprintEvidence:
    """What the history says of one fingerprint.

    ``tasks_seen``: tasks with an attempt that failed with it; ``tasks_retried``:
    those tried again afterwards; ``tasks_recovered``: those a later attempt
    completed; ``tasks_repeated``: those whose every later attempt failed with it
    again. ``retries_spent``: attempts that directly followed a failure with it;
    ``retries_succeeded``: those that completed. ``kind`` is ``deterministic``,
    ``transient`` or ``undecided``."""

    fingerprint: str
    tasks_seen: int
    tasks_retried: int
    tasks_recovered: int
    tasks_repeated: int
    retries_spent: int
    retries_succeeded: int
    kind: str


@dataclass(frozen=True)
class RetryDecision:
    """A handler's retry policy and the evidence behind it.

    ``deterministic`` fingerprints fail fast after one attempt; ``transient`` ones
    keep their retries; ``max_attempts`` covers the transient failures seen;
    ``retry_budget`` caps retries at this share of attempts (``None`` when not
    applied). ``wasted_retries`` is what the static policy spent on the
    deterministic fingerprints (none of them succeeded): what failing fast saves."""

    applied: bool
    reason: str
    deterministic: tuple[str, ...]
    transient: tuple[str, ...]
    max_attempts: int
    retry_budget: float | None
    static_max_attempts: int
    evidence: tuple[FingerprintEvidence, ...] = ()
    wasted_retries: int = 0
    latest_recovery_attempt: int | None = None


def learn_retries(attempts: Attempts, *, static_max_attempts: int, min_tasks: int = 3,
                  budget_ratio: float = 0.1) -> RetryDecision:
    """The retry policy for the handler whose ``attempts`` are given."""
    if static_max_attempts < 1 or min_tasks < 1 or not 0.0 <= budget_ratio <= 1.0:
        raise InvalidLearnerSetting(
            f"static_max_attempts {static_max_attempts}, min_tasks {min_tasks}, budget_ratio "
            f"{budget_ratio}: give at least 1 attempt, at least 1 task and a ratio in [0, 1]")
    tally = _Tally()
    for outcomes, fingerprints, numbers in _tasks(attempts):
        tally.add_task(outcomes, fingerprints, numbers)
    evidence = tuple(tally.evidence(fp, min_tasks) for fp in sorted(tally.seen))
    deterministic = tuple(e.fingerprint for e in evidence if e.kind == "deterministic")
    transient = tuple(e.fingerprint for e in evidence if e.kind == "transient")
    wasted = sum(e.retries_spent for e in evidence if e.kind == "deterministic")
    latest = tally.latest_recovery
    needed = static_max_attempts if latest is None else max(static_max_attempts,
                                                            min(latest + 1, MAX_LEARNED_ATTEMPTS))
    applied = bool(deterministic or transient)
    decision = RetryDecision(
        applied=applied, reason="", deterministic=deterministic, transient=transient,
        max_attempts=needed if applied else static_max_attempts,
        retry_budget=budget_ratio if applied else None,
        static_max_attempts=static_max_attempts, evidence=evidence, wasted_retries=wasted,
        latest_recovery_attempt=latest)
    return _with_reason(decision, min_tasks)


def _tasks(attempts: Attempts) -> Iterator[tuple[list[str], list[str], list[int]]]:
    """Per task, oldest attempt first: outcome classes, fingerprints, attempt numbers.

    Lost and cancelled attempts are dropped; a timeout's fingerprint is ``timeout``."""
    import numpy as np

    kept = np.isin(attempts.outcome, [OutcomeClass.OK.value, OutcomeClass.ERROR.value,
                                      OutcomeClass.TIMEOUT.value])
    rows = attempts.where(kept)
    order = np.lexsort((rows.attempt, rows.task_id))
    task_ids: npt.NDArray[np.int64] = rows.task_id[order]
    bounds = np.flatnonzero(np.diff(task_ids)) + 1
    for chunk in np.split(order, bounds) if len(order) else []:
        outcomes = [str(o) for o in rows.outcome[chunk]]
        fingerprints = [_fingerprint(o, str(f)) for o, f in
                        zip(outcomes, rows.fingerprint[chunk], strict=True)]
        yield outcomes, fingerprints, [int(a) for a in rows.attempt[chunk]]


def _fingerprint(outcome: str, fingerprint: str) -> str:
    if outcome == OutcomeClass.TIMEOUT.value:
        return TIMEOUT_FINGERPRINT
    if outcome == OutcomeClass.ERROR.value:
        return fingerprint or UNKNOWN_ERROR
    return ""


class _Tally:
    """Counts per fingerprint over the tasks of a history."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}
        self.retried: dict[str, int] = {}
        self.recovered: dict[str, int] = {}
        self.repeated: dict[str, int] = {}
        self.spent: dict[str, int] = {}
        self.succeeded: dict[str, int] = {}
        self.latest_recovery: int | None = None

    def add_task(self, outcomes: list[str], fingerprints: list[str], numbers: list[int]) -> None:
        """Count one task's attempts."""
        ok = OutcomeClass.OK.value
        for i in range(len(outcomes) - 1):  # each retry is charged to the failure before it
            if fingerprints[i]:
                _bump(self.spent, fingerprints[i])
                if outcomes[i + 1] == ok:
                    _bump(self.succeeded, fingerprints[i])
        for fp in dict.fromkeys(f for f in fingerprints if f):
            first = fingerprints.index(fp)
            later = outcomes[first + 1:]
            _bump(self.seen, fp)
            if not later:
                continue
            _bump(self.retried, fp)
            if ok in later:
                _bump(self.recovered, fp)
                recovery = numbers[first + 1 + later.index(ok)]
                self.latest_recovery = max(self.latest_recovery or 0, recovery)
            elif all(f == fp for f in fingerprints[first + 1:]):
                _bump(self.repeated, fp)

    def evidence(self, fp: str, min_tasks: int) -> FingerprintEvidence:
        """The evidence on ``fp``, with its kind."""
        recovered, repeated = self.recovered.get(fp, 0), self.repeated.get(fp, 0)
        if recovered:
            kind = "transient"
        elif repeated >= min_tasks and fp != TIMEOUT_FINGERPRINT:
            kind = "deterministic"
        else:
            kind = "undecided"
        return FingerprintEvidence(
            fingerprint=fp, tasks_seen=self.seen[fp], tasks_retried=self.retried.get(fp, 0),
            tasks_recovered=recovered, tasks_repeated=repeated,
            retries_spent=self.spent.get(fp, 0), retries_succeeded=self.succeeded.get(fp, 0),
            kind=kind)


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def _with_reason(decision: RetryDecision, min_tasks: int) -> RetryDecision:
    """``decision`` with its one-sentence reason."""
    from dataclasses import replace

    if not decision.applied:
        return replace(decision, reason=(
            f"no fingerprint failed again on every retry in {min_tasks} tasks, and none "
            f"recovered on a retry: the static policy ({decision.static_max_attempts} "
            "attempts) stays"))
    parts = []
    if decision.deterministic:
        parts.append(f"{len(decision.deterministic)} deterministic fingerprint"
                     f"{'s' if len(decision.deterministic) != 1 else ''} fail fast after one "
                     f"attempt (the static policy spent {decision.wasted_retries} retries on "
                     "them, none succeeded)")
    if decision.transient:
        parts.append(f"{len(decision.transient)} transient fingerprint"
                     f"{'s' if len(decision.transient) != 1 else ''} keep their retries, "
                     f"up to {decision.max_attempts} attempts"
                     + (f" (the latest recovery was attempt {decision.latest_recovery_attempt})"
                        if decision.latest_recovery_attempt is not None else ""))
    parts.append(f"retries are capped at {decision.retry_budget:.0%} of attempts")
    return replace(decision, reason="; ".join(parts))
