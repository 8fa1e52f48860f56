"""The timeout learner: a margin over p99 or p99.9 of successful run times, clamped,
never below the minimum sample count, with false timeouts under 0.1 %."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from _synthetic import attempts

from htdag.optimizer.learner_errors import InvalidLearnerSetting
from htdag.optimizer.timeouts import learn_timeout


def lognormal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A network call: median 20 ms, p99 ten times the median."""
    return 0.02 * rng.lognormal(0.0, 1.0, n)


def narrow_lognormal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A steady local call: median 20 ms, p99 three times the median."""
    return 0.02 * rng.lognormal(0.0, 0.5, n)


def gamma(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.gamma(2.0, 0.05, n)


def bimodal(rng: np.random.Generator, n: int) -> np.ndarray:
    """80 % cache hits around 20 ms, 20 % misses around 200 ms."""
    fast = 0.02 * rng.lognormal(0.0, 0.3, n)
    slow = 0.2 * rng.lognormal(0.0, 0.3, n)
    return np.where(rng.random(n) < 0.2, slow, fast)


def test_below_the_minimum_sample_count_the_static_timeout_stays() -> None:
    rng = np.random.default_rng(1)
    durations = lognormal(rng, 60)
    outcome = ["ok"] * 49 + ["error"] * 11  # failed attempts are no samples
    decision = learn_timeout(attempts(durations, outcome=outcome), static=3.0)
    assert not decision.applied and decision.value == 3.0
    assert decision.n == 49
    assert decision.reason == ("only 49 successful attempts; 50 needed: "
                               "the static timeout (3 s) stays")
    without_static = learn_timeout(attempts(durations, outcome=outcome), static=None)
    assert without_static.value is None and "no timeout stays" in without_static.reason


def test_three_times_p99_below_a_thousand_samples_and_1_5_times_p999_from_there() -> None:
    rng = np.random.default_rng(2)
    durations = lognormal(rng, 1000)
    few = learn_timeout(attempts(durations[:999]), static=None)
    many = learn_timeout(attempts(durations), static=None)
    assert few.applied and many.applied
    assert few.value == pytest.approx(3 * np.quantile(durations[:999], 0.99))
    assert many.value == pytest.approx(1.5 * np.quantile(durations, 0.999))
    assert few.p999 is None and many.p999 == pytest.approx(np.quantile(durations, 0.999))
    assert few.reason.startswith("3 x p99 of 999 successful attempts (p99 ")
    assert many.reason.startswith("1.5 x p99.9 of 1000 successful attempts (p99.9 ")


def test_the_margin_sits_on_the_handlers_run_times_where_recorded() -> None:
    """A step's timeout counts the handler's run, not the claim and report around it."""
    rng = np.random.default_rng(7)
    run = lognormal(rng, 500)
    decision = learn_timeout(attempts(run + 0.5, run_seconds=run), static=None)
    assert decision.value == pytest.approx(3 * np.quantile(run, 0.99))


def test_the_value_is_clamped_to_the_floor_and_the_cap() -> None:
    fast = learn_timeout(attempts(np.full(100, 0.001)), static=None, floor=0.1)
    slow = learn_timeout(attempts(np.full(100, 2000.0)), static=None, cap=3600.0)
    assert fast.value == 0.1 and fast.clamped == "floor" and fast.unclamped == pytest.approx(0.003)
    assert slow.value == 3600.0 and slow.clamped == "cap" and slow.unclamped == pytest.approx(6000)
    assert "raised to the floor of 0.1 s" in fast.reason
    with pytest.raises(InvalidLearnerSetting, match="floor"):
        learn_timeout(attempts(np.ones(100)), static=None, floor=5.0, cap=1.0)


@pytest.mark.parametrize(("distribution", "samples"), [
    (narrow_lognormal, 50), (gamma, 50), (bimodal, 50),
    (lognormal, 200), (narrow_lognormal, 200), (gamma, 200), (bimodal, 200),
    (lognormal, 2000), (narrow_lognormal, 2000), (gamma, 2000), (bimodal, 2000),
])
def test_false_timeouts_stay_under_a_tenth_of_a_percent(
        distribution: Callable[[np.random.Generator, int], np.ndarray], samples: int) -> None:
    """The expected share of successful calls cut by the learned timeout, over 20
    histories: each value is measured on 100,000 fresh calls of the same handler."""
    rates = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        decision = learn_timeout(attempts(distribution(rng, samples)), static=None, floor=0.001)
        assert decision.applied and decision.value is not None
        rates.append(float(np.mean(distribution(rng, 100_000) > decision.value)))
    assert float(np.mean(rates)) < 0.001, rates


def test_the_confidence_interval_covers_the_true_p99_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(3)
    true_p99 = 0.02 * np.exp(2.3263478740408408)  # lognormal(0, 1) scaled
    covered = 0
    for _ in range(400):
        decision = learn_timeout(attempts(lognormal(rng, 500)), static=None)
        assert decision.quantile is not None and decision.quantile.q == 0.99
        covered += decision.quantile.low <= true_p99 <= decision.quantile.high
    assert 0.90 <= covered / 400 <= 0.995


def test_hung_calls_cost_the_static_timeout_seconds_the_learned_one_saves() -> None:
    rng = np.random.default_rng(4)
    ok = 0.02 * rng.lognormal(0.0, 0.5, 400)
    durations = np.concatenate([ok, np.full(16, 3.0)])
    outcome = ["ok"] * 400 + ["timeout"] * 16
    decision = learn_timeout(attempts(durations, outcome=outcome), static=3.0, floor=0.01)
    assert decision.value is not None and decision.applied
    assert decision.hung_calls == 16 and decision.static_wait == pytest.approx(48.0)
    assert decision.static_wait is not None and decision.learned_wait is not None
    assert decision.learned_wait == pytest.approx(16 * decision.value)
    assert decision.static_wait / decision.learned_wait >= 10  # timeout_detect_ratio
    assert decision.false_timeout_rate == pytest.approx(np.mean(ok > decision.value))
    assert decision.false_timeout_rate is not None and decision.false_timeout_rate <= 0.001
    assert decision.static_false_timeout_rate == 0.0
    assert "; a 3 s timeout waited 48 s on 16 hung calls, " in decision.reason
    assert decision.reason.endswith(f"would have waited {decision.learned_wait:.3g} s")
