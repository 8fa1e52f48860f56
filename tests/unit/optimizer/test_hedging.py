"""The hedge learner: a second attempt after a high quantile of successful run times,
within an extra-attempt budget, and only when it lowers the p99."""

from __future__ import annotations

import numpy as np
import pytest
from _synthetic import attempts

from htdag.optimizer.hedging import learn_hedge_delay
from htdag.optimizer.learner_errors import InvalidLearnerSetting


def stragglers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Calls around 100 ms, 3 % of them ten times slower (a slow replica, a GC pause)."""
    base = 0.1 * rng.lognormal(0.0, 0.2, n)
    return np.where(rng.random(n) < 0.03, 10 * base, base)


def test_below_the_minimum_sample_count_nothing_is_hedged() -> None:
    durations = np.ones(150)
    outcome = ["ok"] * 99 + ["error"] * 51
    decision = learn_hedge_delay(attempts(durations, outcome=outcome))
    assert not decision.applied and decision.delay is None and decision.n == 99
    assert decision.reason == "only 99 successful attempts; 100 needed: no hedging"


def test_the_delay_is_the_p95_with_its_interval_and_effect_on_the_history() -> None:
    rng = np.random.default_rng(11)
    durations = stragglers(rng, 2000)
    decision = learn_hedge_delay(attempts(durations))
    assert decision.applied and decision.delay == pytest.approx(np.quantile(durations, 0.95))
    assert decision.quantile is not None and decision.delay is not None
    assert decision.hedged_share is not None and decision.p99_without is not None
    assert decision.quantile.low <= decision.delay <= decision.quantile.high
    assert decision.hedged_share == pytest.approx(np.mean(durations > decision.delay))
    assert decision.hedged_share <= 0.05
    assert decision.p99_without == pytest.approx(np.quantile(durations, 0.99))
    assert decision.p99_with is not None and decision.p99_with < decision.p99_without / 3
    assert decision.reason.startswith(f"hedge after {decision.delay:.3g} s, the p95 of 2000 "
                                      "successful attempts (95% CI ")
    assert "): 5% of tasks get a second attempt (budget 5%); p99 " in decision.reason


def test_hedging_fresh_calls_at_the_learned_delay_cuts_their_p99_three_times() -> None:
    """hedge_p99_ratio and hedge_extra_attempts_ratio, measured on calls the learner
    never saw: the first of the two attempts to finish wins."""
    rng = np.random.default_rng(12)
    decision = learn_hedge_delay(attempts(stragglers(rng, 2000)))
    assert decision.delay is not None
    first, second = stragglers(rng, 100_000), stragglers(rng, 100_000)
    hedged = first > decision.delay
    finished = np.where(hedged, np.minimum(first, decision.delay + second), first)
    assert np.quantile(first, 0.99) / np.quantile(finished, 0.99) >= 3
    assert hedged.mean() <= 0.06  # 5 % budget, give or take the p95's sampling error


def test_the_delay_is_learned_from_the_handlers_run_times_where_recorded() -> None:
    """The worker's hedge timer counts the handler's run, so the delay leaves out
    the claim and the report around it (here 15 ms on every attempt); attempts
    recorded without a run time count with their duration."""
    rng = np.random.default_rng(15)
    run = stragglers(rng, 2000)
    run_seconds = np.where(np.arange(2000) < 100, np.nan, run)
    decision = learn_hedge_delay(attempts(run + 0.015, run_seconds=run_seconds))
    expected = np.quantile(np.where(np.isnan(run_seconds), run + 0.015, run), 0.95)
    assert decision.delay == pytest.approx(expected)
    assert decision.delay is not None and decision.delay < np.quantile(run + 0.015, 0.95) - 0.01


def test_a_quantile_that_would_hedge_more_than_the_budget_is_raised() -> None:
    rng = np.random.default_rng(13)
    durations = stragglers(rng, 1000)
    decision = learn_hedge_delay(attempts(durations), quantile=0.8, budget_ratio=0.02)
    assert decision.quantile is not None and decision.quantile.q == 0.98
    assert decision.delay == pytest.approx(np.quantile(durations, 0.98))
    assert decision.hedged_share is not None and decision.hedged_share <= 0.02


def test_durations_without_a_tail_are_not_hedged() -> None:
    rng = np.random.default_rng(14)
    decision = learn_hedge_delay(attempts(rng.uniform(1.0, 1.1, 1000)))
    assert not decision.applied and decision.delay is None
    assert decision.p99_with is not None and decision.p99_without is not None
    assert decision.p99_with >= decision.p99_without
    assert decision.reason.startswith("no hedging: a second attempt after ")
    assert ", the p95, would not lower the p99 (p99 " in decision.reason


def test_settings_outside_their_range_are_refused() -> None:
    with pytest.raises(InvalidLearnerSetting, match=r"quantile 1\.5"):
        learn_hedge_delay(attempts(np.ones(200)), quantile=1.5)
