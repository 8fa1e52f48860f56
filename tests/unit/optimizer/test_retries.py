"""The retry learner: fingerprints that failed again on every retry fail fast,
those a retry cured keep their retries, with enough attempts and a budget."""

from __future__ import annotations

import numpy as np
import pytest
from _synthetic import attempts

from htdag.optimizer.retries import learn_retries
from htdag.optimizer.samples import Attempts

BAD_INPUT = "ValueError: invalid literal for int() with base <n>: <s>"
RESET = "ConnectionResetError: [Errno <n>] Connection reset by peer"


def history(tasks: list[list[tuple[str, str]]]) -> Attempts:
    """Attempts from per-task lists of (outcome, fingerprint), attempt 1 first."""
    rows = [(task, number, outcome, fingerprint)
            for task, tries in enumerate(tasks)
            for number, (outcome, fingerprint) in enumerate(tries, start=1)]
    return attempts(np.ones(len(rows)), task_id=[r[0] for r in rows],
                    attempt=[r[1] for r in rows], outcome=[r[2] for r in rows],
                    fingerprint=[r[3] for r in rows])


OK = ("ok", "")


def test_failures_that_repeat_fail_fast_and_those_a_retry_cures_keep_their_retries() -> None:
    tasks = ([[("error", BAD_INPUT)] * 3] * 5
             + [[("error", RESET), OK]] * 4
             + [[("error", RESET), ("error", RESET), OK]]
             + [[OK]] * 10)
    decision = learn_retries(history(tasks), static_max_attempts=3)
    assert decision.applied
    assert decision.deterministic == (BAD_INPUT,) and decision.transient == (RESET,)
    assert decision.max_attempts == 4  # the latest recovery was attempt 3
    assert decision.retry_budget == 0.1
    assert decision.wasted_retries == 10  # 5 tasks x 2 retries, none succeeded
    reset, bad = decision.evidence  # sorted by fingerprint
    assert (bad.tasks_seen, bad.tasks_repeated, bad.retries_spent, bad.retries_succeeded) == (
        5, 5, 10, 0)
    assert (reset.tasks_seen, reset.tasks_recovered, reset.retries_spent,
            reset.retries_succeeded) == (5, 5, 6, 5)
    assert decision.reason == (
        "1 deterministic fingerprint fail fast after one attempt (the static policy spent "
        "10 retries on them, none succeeded); 1 transient fingerprint keep their retries, "
        "up to 4 attempts (the latest recovery was attempt 3); retries are capped at 10% "
        "of attempts")


def test_fewer_tasks_than_the_minimum_decide_nothing() -> None:
    decision = learn_retries(history([[("error", BAD_INPUT)] * 3] * 2 + [[OK]] * 5),
                             static_max_attempts=3, min_tasks=3)
    assert not decision.applied and decision.deterministic == () and decision.transient == ()
    assert decision.max_attempts == 3 and decision.retry_budget is None
    assert decision.evidence[0].kind == "undecided" and decision.evidence[0].tasks_repeated == 2
    assert decision.reason.endswith("the static policy (3 attempts) stays")


def test_one_recovery_makes_a_fingerprint_transient_however_often_it_repeated() -> None:
    tasks = [[("error", BAD_INPUT)] * 3] * 6 + [[("error", BAD_INPUT), OK]]
    decision = learn_retries(history(tasks), static_max_attempts=3)
    assert decision.deterministic == () and decision.transient == (BAD_INPUT,)


def test_a_task_that_fails_once_and_is_not_tried_again_is_no_evidence() -> None:
    tasks = [[("error", BAD_INPUT)]] * 10  # e.g. max_attempts was 1
    decision = learn_retries(history(tasks), static_max_attempts=1)
    assert not decision.applied
    assert decision.evidence[0].tasks_seen == 10 and decision.evidence[0].tasks_retried == 0


def test_a_failure_followed_by_a_different_one_is_not_deterministic() -> None:
    tasks = [[("error", BAD_INPUT), ("error", RESET), ("error", BAD_INPUT)]] * 5
    decision = learn_retries(history(tasks), static_max_attempts=3)
    assert not decision.applied and decision.deterministic == ()
    assert {e.fingerprint: (e.kind, e.tasks_retried) for e in decision.evidence} == {
        BAD_INPUT: ("undecided", 5), RESET: ("undecided", 5)}


def test_timeouts_are_transient_candidates_never_deterministic() -> None:
    hung = [[("timeout", "")] * 3] * 6
    assert learn_retries(history(hung), static_max_attempts=3).deterministic == ()
    cured = learn_retries(history([*hung, [("timeout", ""), OK]]), static_max_attempts=3)
    assert cured.transient == ("timeout",)


def test_lost_and_cancelled_attempts_are_left_out() -> None:
    tasks = ([[("error", BAD_INPUT), ("lost", ""), ("error", BAD_INPUT)]] * 3
             + [[("error", RESET), ("cancelled", "")]] * 3)
    decision = learn_retries(history(tasks), static_max_attempts=3)
    assert decision.deterministic == (BAD_INPUT,)
    reset = next(e for e in decision.evidence if e.fingerprint == RESET)
    assert reset.tasks_retried == 0 and reset.kind == "undecided"


@pytest.mark.parametrize(("static", "recovery", "expected"), [
    (3, 2, 3), (3, 5, 6), (3, 15, 10), (12, 15, 12)])
def test_max_attempts_covers_the_latest_recovery_within_bounds(
        static: int, recovery: int, expected: int) -> None:
    tasks = [[("error", RESET)] * (recovery - 1) + [OK]]
    decision = learn_retries(history(tasks), static_max_attempts=static)
    assert decision.max_attempts == expected


def test_failing_fast_saves_the_retries_wasted_on_deterministic_failures() -> None:
    """wasted_retry_reduction: a handler whose tasks fail for good (bad input) or for
    a while (a flaky network); the learned policy, replayed on the same tasks, spends
    no retry on the former and still recovers every one of the latter."""
    rng = np.random.default_rng(5)
    deterministic = [f"KeyError: 'field_{i}'" for i in range(3)]
    static = 3
    tasks: list[list[tuple[str, str]]] = []
    for _ in range(300):
        kind = rng.random()
        if kind < 0.2:
            tasks.append([("error", str(rng.choice(deterministic)))] * static)
        elif kind < 0.5:
            failures = int(rng.integers(1, static))
            tasks.append([("error", RESET)] * failures + [OK])
        else:
            tasks.append([OK])
    decision = learn_retries(history(tasks), static_max_attempts=static)
    assert set(decision.deterministic) == set(deterministic)

    def attempts_allowed(task: list[tuple[str, str]]) -> int:
        """Under the learned policy: one attempt after a deterministic failure."""
        return 1 if task[0][1] in decision.deterministic else decision.max_attempts

    static_waste = sum(len(t) - 1 for t in tasks if t[0][1] in deterministic)
    learned_waste = sum(min(len(t), attempts_allowed(t)) - 1
                        for t in tasks if t[0][1] in deterministic)
    assert decision.wasted_retries == static_waste > 0
    assert 1 - learned_waste / static_waste >= 0.8
    transient_tasks = [t for t in tasks if t[0][1] == RESET]
    assert transient_tasks and all(len(t) <= attempts_allowed(t) for t in transient_tasks)
