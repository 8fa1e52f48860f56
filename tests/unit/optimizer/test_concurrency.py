"""The concurrency learner: a Universal Scalability Law fitted to throughput against
concurrency, a limit at its peak, and convergence on a simulated handler."""

from __future__ import annotations

import numpy as np
import pytest
from _synthetic import attempts

from htdag.optimizer.concurrency import fit_usl, learn_concurrency, throughput_points
from htdag.optimizer.samples import Attempts

SLOTS = 32


class SimulatedHandler:
    """A handler whose mean duration at concurrency N follows a known USL curve."""

    def __init__(self, lam: float, s: float, k: float, noise: float = 0.2) -> None:
        self.lam, self.s, self.k, self.noise = lam, s, k, noise

    def mean_duration(self, n: np.ndarray | int) -> np.ndarray:
        level = np.asarray(n, dtype=np.float64)
        mean: np.ndarray = (1.0 + self.s * (level - 1.0)
                            + self.k * level * (level - 1.0)) / self.lam
        return mean

    def throughput(self, n: np.ndarray | int) -> np.ndarray:
        rate: np.ndarray = np.asarray(n, dtype=np.float64) / self.mean_duration(n)
        return rate

    def best_throughput(self, max_limit: int = SLOTS) -> float:
        return float(self.throughput(np.arange(1, max_limit + 1)).max())

    def window(self, limit: int, rng: np.random.Generator, size: int = 200) -> Attempts:
        """A window of attempts run under ``limit``: most at the limit, the rest
        while the load ramps up or drains (any level below it)."""
        level = np.where(rng.random(size) < 0.8, limit, rng.integers(1, limit + 1, size))
        duration = self.mean_duration(level) * rng.lognormal(0.0, self.noise, size)
        return attempts(duration, concurrency=level)


def merged(windows: list[Attempts]) -> Attempts:
    return Attempts(**{name: np.concatenate([getattr(w, name) for w in windows]) for name in (
        "task_id", "attempt", "outcome", "duration", "queue_wait", "started_at",
        "concurrency", "fingerprint", "step")})


def converge(handler: SimulatedHandler, start: int, seed: int, windows: int = 10) -> list[int]:
    """The limits given after each window, each window run at the limit before it."""
    rng = np.random.default_rng(seed)
    history: list[Attempts] = []
    limits, limit = [], start
    for _ in range(windows):
        history.append(handler.window(limit, rng))
        decision = learn_concurrency(merged(history), current_limit=limit, max_limit=SLOTS)
        assert decision.applied and decision.limit is not None
        limit = decision.limit
        limits.append(limit)
    return limits


PEAK_AT_8 = SimulatedHandler(lam=10.0, s=0.05, k=0.95 / 64)  # N* = 8 of 32 slots
COLLAPSE_ABOVE_4 = SimulatedHandler(lam=10.0, s=0.0, k=1 / 16)  # N* = 4, steep fall after
SCALES_TO_THE_TOP = SimulatedHandler(lam=10.0, s=0.01, k=0.0)  # best at the 32 slots


@pytest.mark.parametrize("handler", [PEAK_AT_8, COLLAPSE_ABOVE_4, SCALES_TO_THE_TOP])
@pytest.mark.parametrize("start", [1, 4, 32])
def test_the_limit_reaches_95_percent_of_the_best_throughput_within_10_windows(
        handler: SimulatedHandler, start: int) -> None:
    for seed in range(5):
        limits = converge(handler, start, seed)
        ratio = float(handler.throughput(limits[-1])) / handler.best_throughput()
        assert ratio >= 0.95, (limits, ratio)


def test_the_fit_recovers_a_known_curve() -> None:
    handler = PEAK_AT_8
    levels = np.repeat(np.arange(1, 17), 5)
    points = throughput_points(levels, handler.mean_duration(levels))
    fit = fit_usl(points)
    assert (fit.lam, fit.s, fit.k) == pytest.approx((10.0, 0.05, 0.95 / 64), rel=1e-6)
    assert fit.peak == pytest.approx(8.0, rel=1e-6) and fit.r2 == pytest.approx(1.0)
    assert [p.n for p in points] == list(range(1, 17))
    assert points[7].throughput == pytest.approx(float(handler.throughput(8)))


def test_a_peak_inside_the_levels_seen_is_the_limit_with_its_evidence() -> None:
    rng = np.random.default_rng(7)
    levels = rng.integers(1, 17, 2000)
    duration = PEAK_AT_8.mean_duration(levels) * rng.lognormal(0.0, 0.2, 2000)
    decision = learn_concurrency(attempts(duration, concurrency=levels), current_limit=16)
    assert decision.applied and decision.action == "peak" and decision.limit == 8
    assert decision.fit is not None and decision.fit.r2 > 0.9
    assert decision.peak == pytest.approx(8.0, abs=1.0)
    assert len(decision.points) == 16 and sum(p.samples for p in decision.points) == 2000
    assert decision.reason.startswith("limit 8: the fitted throughput peaks at N* = ")


def test_a_curve_still_rising_at_the_top_doubles_the_limit_up_to_the_maximum() -> None:
    rng = np.random.default_rng(8)
    levels = rng.integers(1, 5, 400)
    history = attempts(SCALES_TO_THE_TOP.mean_duration(levels), concurrency=levels)
    assert learn_concurrency(history, current_limit=4).limit == 8
    capped = learn_concurrency(history, current_limit=4, max_limit=6)
    assert capped.limit == 6 and capped.action == "explore"
    assert capped.reason.startswith("limit 6: throughput still rises at 4 concurrent attempts")


def test_throughput_falling_at_the_only_two_levels_brings_the_limit_down() -> None:
    levels = np.repeat([4, 16], 50)
    history = attempts(COLLAPSE_ABOVE_4.mean_duration(levels), concurrency=levels)
    decision = learn_concurrency(history, current_limit=16)
    # The best level is the lowest measured: the level below it is measured next.
    assert decision.fit is None and decision.action == "probe-below" and decision.limit == 2
    assert decision.reason.startswith("limit 2: the peak may lie below the lowest level measured")

    levels = np.repeat([2, 4, 16], 50)
    history = attempts(COLLAPSE_ABOVE_4.mean_duration(levels), concurrency=levels)
    decision = learn_concurrency(history, current_limit=2)
    assert decision.limit == 4


def test_below_the_minimum_sample_count_the_limit_stays() -> None:
    outcome = ["ok"] * 29 + ["error"] * 20
    decision = learn_concurrency(attempts(np.ones(49), outcome=outcome), current_limit=5)
    assert not decision.applied and decision.limit == 5 and decision.n == 29
    assert decision.reason == "only 29 completed attempts; 30 needed: the limit stays at 5"


def test_levels_each_seen_too_rarely_keep_the_limit() -> None:
    decision = learn_concurrency(attempts(np.ones(40), concurrency=np.arange(1, 41)),
                                 current_limit=None)
    assert not decision.applied and decision.limit is None and decision.points == ()
    assert decision.reason == ("no concurrency level has 3 completed attempts: "
                               "the limit stays unlimited")


class CappedHandler(SimulatedHandler):
    """The same handler behind workers with only ``slots`` slots, under a load
    that keeps them full: every attempt of a window runs at the limit or at the
    slots, whichever is lower (a limit above the slots does not bind)."""

    def __init__(self, slots: int, **usl: float) -> None:
        super().__init__(**usl)
        self.slots = slots

    def window(self, limit: int, rng: np.random.Generator, size: int = 200) -> Attempts:
        level = np.full(size, min(limit, self.slots))
        duration = self.mean_duration(level) * rng.lognormal(0.0, self.noise, size)
        return attempts(duration, concurrency=level)


@pytest.mark.parametrize("seed", range(5))
def test_a_limit_that_does_not_bind_probes_lower_levels_and_finds_the_peak(seed: int) -> None:
    handler = CappedHandler(16, lam=100.0, s=0.02, k=0.05)  # peak near N = 4.4
    limits = converge(handler, start=32, seed=seed)

    assert limits[0] == 8  # at most 16 ran under a limit of 32: a lower level is measured
    assert handler.throughput(limits[-1]) >= 0.95 * handler.best_throughput(16)


def test_with_every_lower_level_measured_the_best_level_is_kept() -> None:
    handler = CappedHandler(16, lam=100.0, s=0.0, k=0.0)  # still rising at the slots
    limits = converge(handler, start=32, seed=1)

    # 16 or more: the slots stop it at 16 either way
    assert handler.throughput(min(limits[-1], 16)) >= 0.95 * handler.best_throughput(16)
    assert all(handler.throughput(min(limit, 16)) >= 0.95 * handler.best_throughput(16)
               for limit in limits[-3:])


def test_a_fitted_peak_far_below_every_level_measured_is_probed_not_taken() -> None:
    # Three levels whose fit extrapolates to a peak near 1: the level below the
    # lowest measured is tried first.
    levels = np.repeat([8, 16, 32], 60)
    durations = np.where(levels == 8, 0.1, np.where(levels == 16, 0.35, 1.3))
    decision = learn_concurrency(attempts(durations, concurrency=levels), current_limit=32)

    assert decision.fit is not None and decision.fit.peak < 4
    assert (decision.action, decision.limit) == ("probe-below", 4)
