"""Learned concurrency limits: throughput against concurrency, fitted by the
Universal Scalability Law.

Each completed attempt records how many attempts of its handler (or concurrency
key) were running when it started. At each level ``N`` the throughput follows from
Little's law, ``X(N) = N / mean duration at N``. Gunther's Universal Scalability
Law ``X(N) = lam*N / (1 + s*(N-1) + k*N*(N-1))`` (``s`` contention, ``k``
coherency) peaks at ``N* = sqrt((1 - s) / k)``. Its mean duration
``N / X(N) = (1 + s*(N-1) + k*N*(N-1)) / lam`` is linear in ``1/lam``, ``s/lam``
and ``k/lam``, so a non-negative least-squares fit on the mean durations finds it
exactly, with ``s`` and ``k`` never negative.

The limit is ``round(N*)`` when the peak lies within (or up to 1.5 x above) the
levels seen. Otherwise the curve still rises at the top: the limit doubles, up to
``max_limit`` (multiplicative increase), and the next window of attempts at the new
limit tells more. When the limit did not bind (fewer ran at once than it allows:
the load or the workers' slots stopped them), a higher one would show nothing
new: a lower level is measured instead (half the top, then a quarter), and once
those are measured the best level is kept. When the measured throughput falls at
the top level the limit comes down to the best level measured (or, when that is
the lowest measured, to the level below it, to see whether the peak lies lower).
Re-run after each window, the limit settles on the peak within a few windows
(the tests show it within 10)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._stats import format_number
from .learner_errors import InvalidLearnerSetting
from .samples import Attempts, OutcomeClass

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: Attempts a level needs before its throughput counts.
MIN_LEVEL_SAMPLES = 3
#: Attempts a level needs before its throughput can say the curve falls: a level
#: seen a few times while the load ramps up is too noisy to bring the limit down.
STEADY_LEVEL_SAMPLES = 20
#: How far above the highest level seen a fitted peak is trusted.
PEAK_REACH = 1.5
#: A top level this far below the best measured throughput is past the peak.
FALL_TOLERANCE = 0.9


@dataclass(frozen=True)
class ConcurrencyPoint:
    """Throughput measured at one concurrency level."""

    n: int
    throughput: float  # completions per second, N / mean duration (Little's law)
    mean_duration: float
    samples: int


@dataclass(frozen=True)
class UslFit:
    """A Universal Scalability Law fitted to the points; ``r2`` on their throughput."""

    lam: float
    s: float
    k: float
    r2: float

    @property
    def peak(self) -> float | None:
        """``N* = sqrt((1 - s) / k)``, at least 1; ``None`` while nothing limits it (k = 0)."""
        if self.k <= 0.0:
            return None
        return max(1.0, math.sqrt(max(1.0 - self.s, 0.0) / self.k))

    def throughput(self, n: float) -> float:
        """The fitted throughput at concurrency ``n``."""
        return self.lam * n / (1.0 + self.s * (n - 1.0) + self.k * n * (n - 1.0))


@dataclass(frozen=True)
class ConcurrencyDecision:
    """A concurrency limit and the evidence behind it.

    ``action`` says how the limit was reached: ``peak`` (round(N*)), ``explore``
    (doubling above the levels seen), ``decrease`` (down to the best level
    measured) or ``keep`` (not applied)."""

    applied: bool
    reason: str
    limit: int | None
    current_limit: int | None
    n: int
    action: str = "keep"
    points: tuple[ConcurrencyPoint, ...] = ()
    fit: UslFit | None = None
    peak: float | None = None


def learn_concurrency(attempts: Attempts, *, current_limit: int | None, max_limit: int = 1024,
                      min_samples: int = 30) -> ConcurrencyDecision:
    """The concurrency limit for the handler (or key) whose ``attempts`` are given."""
    if max_limit < 1:
        raise InvalidLearnerSetting(f"max_limit {max_limit}: give at least 1")
    completed = attempts.outcome == OutcomeClass.OK.value
    n = int(completed.sum())
    if n < min_samples:
        return ConcurrencyDecision(
            applied=False, limit=current_limit, current_limit=current_limit, n=n,
            reason=f"only {n} completed attempts; {min_samples} needed: "
                   f"the limit stays {_limit_text(current_limit)}")
    points = throughput_points(attempts.concurrency[completed], attempts.duration[completed])
    if not points:
        return ConcurrencyDecision(
            applied=False, limit=current_limit, current_limit=current_limit, n=n,
            reason=f"no concurrency level has {MIN_LEVEL_SAMPLES} completed attempts: "
                   f"the limit stays {_limit_text(current_limit)}")
    fit = fit_usl(points) if len(points) >= 3 else None
    limit, action = _choose(points, fit, max_limit, current_limit)
    decision = ConcurrencyDecision(
        applied=True, reason="", limit=limit, current_limit=current_limit, n=n, action=action,
        points=points, fit=fit, peak=fit.peak if fit else None)
    return _with_reason(decision)


def throughput_points(concurrency: npt.NDArray[np.int64],
                      duration: npt.NDArray[np.float64]) -> tuple[ConcurrencyPoint, ...]:
    """Throughput per concurrency level with at least ``MIN_LEVEL_SAMPLES`` attempts."""
    import numpy as np

    points = []
    for level in np.unique(concurrency):
        at_level = duration[concurrency == level]
        mean = float(at_level.mean())
        if len(at_level) >= MIN_LEVEL_SAMPLES and level >= 1 and mean > 0:
            points.append(ConcurrencyPoint(n=int(level), throughput=float(level) / mean,
                                           mean_duration=mean, samples=len(at_level)))
    return tuple(points)


def fit_usl(points: tuple[ConcurrencyPoint, ...]) -> UslFit:
    """The Universal Scalability Law closest to ``points``.

    Non-negative least squares on the mean durations ``D(N) = a + b*(N-1) +
    c*N*(N-1)``, each residual relative to its ``D(N)`` and weighted by the
    square root of the samples behind it; ``lam = 1/a``, ``s = b/a``, ``k = c/a``."""
    import numpy as np

    levels = np.array([p.n for p in points], dtype=np.float64)
    durations = np.array([p.mean_duration for p in points])
    weights = np.sqrt([p.samples for p in points]) / durations
    basis = np.column_stack([np.ones_like(levels), levels - 1.0, levels * (levels - 1.0)])
    a, b, c = _non_negative_least_squares(basis * weights[:, None], durations * weights)
    a = max(float(a), 1e-12 * float(durations.min()))
    fit = UslFit(lam=1.0 / a, s=float(b) / a, k=float(c) / a, r2=0.0)
    observed = levels / durations
    fitted = np.array([fit.throughput(level) for level in levels])
    total = float(((observed - observed.mean()) ** 2).sum())
    r2 = 1.0 - float(((observed - fitted) ** 2).sum()) / total if total > 0 else 1.0
    return UslFit(lam=fit.lam, s=fit.s, k=fit.k, r2=r2)


def _non_negative_least_squares(matrix: npt.NDArray[np.float64],
                                target: npt.NDArray[np.float64]) -> list[float]:
    """``x >= 0`` minimising ``|matrix @ x - target|`` for a handful of columns.

    The optimum is the unconstrained least-squares solution on some subset of the
    columns (the others zero); with three columns all eight subsets are tried,
    which is exact and needs nothing beyond numpy."""
    from itertools import combinations

    import numpy as np

    columns = matrix.shape[1]
    best, best_residual = [0.0] * columns, float(target @ target)
    for size in range(1, columns + 1):
        for subset in combinations(range(columns), size):
            solution, *_ = np.linalg.lstsq(matrix[:, subset], target, rcond=None)
            if (solution < 0).any():
                continue
            residual = target - matrix[:, subset] @ solution
            if float(residual @ residual) < best_residual - 1e-15 * best_residual:
                best_residual = float(residual @ residual)
                best = [0.0] * columns
                for column, value in zip(subset, solution, strict=True):
                    best[column] = float(value)
    return best


def _choose(points: tuple[ConcurrencyPoint, ...], fit: UslFit | None,
            max_limit: int, current_limit: int | None = None) -> tuple[int, str]:
    """The limit and how it was reached, from the points and the fit (``None``
    with fewer than three levels)."""
    top = max(p.n for p in points)
    best = _best_measured(points)
    falls = points[-1].throughput < FALL_TOLERANCE * best.throughput
    explore = min(max_limit, 2 * top)
    peak = fit.peak if fit else None
    steady = {p.n for p in points if p.samples >= STEADY_LEVEL_SAMPLES}
    lowest = min(steady or {p.n for p in points})
    if peak is not None and round(peak) < lowest // 2:
        # A peak far below every level measured is the fit extrapolating (a few
        # levels, a degenerate curve): measure the level below the lowest first.
        return max(1, lowest // 2), "probe-below"
    if peak is not None and peak <= PEAK_REACH * top:
        return min(max_limit, max(1, round(peak))), "peak"
    if falls:  # the measurements disagree with a rising curve: trust them
        if best.n > 1 and best.n == min(steady, default=best.n) and best.n // 2 not in steady:
            return best.n // 2, "probe-below"  # the best is the lowest measured: look below
        return min(max_limit, best.n), "decrease"
    if current_limit is not None and current_limit < top:
        return min(max_limit, best.n), "keep"  # a lower level was probed; the top is better
    if current_limit is None or current_limit > top:
        # The limit did not bind: the load (or the workers' slots) stopped at the
        # top level, and a higher limit would show nothing new. Measure a lower
        # level instead, or keep the best one once they are all measured.
        lower = next((n for n in (top // 2, top // 4, top // 8) if n >= 1 and n not in steady),
                     None)
        return (lower, "probe") if lower is not None else (best.n, "keep")
    if peak is not None:
        return min(explore, round(peak)), "explore"
    return explore, "explore"


def _best_measured(points: tuple[ConcurrencyPoint, ...]) -> ConcurrencyPoint:
    """The level of highest throughput among those measured steadily (all levels
    when none was)."""
    steady = [p for p in points if p.samples >= STEADY_LEVEL_SAMPLES] or list(points)
    return max(steady, key=lambda p: p.throughput)


def _limit_text(limit: int | None) -> str:
    return "unlimited" if limit is None else f"at {limit}"


def _with_reason(decision: ConcurrencyDecision) -> ConcurrencyDecision:
    """``decision`` with its one-sentence reason."""
    from dataclasses import replace

    top = max(p.n for p in decision.points)
    best = _best_measured(decision.points)
    seen = (f"{decision.n} completed attempts at {len(decision.points)} concurrency levels "
            f"(up to {top}; best measured {format_number(best.throughput)}/s at {best.n})")
    fit = decision.fit
    curve = (f"; USL fit lam {format_number(fit.lam)}/s, s {format_number(fit.s)}, "
             f"k {format_number(fit.k)}, R^2 {fit.r2:.2f}" if fit else "")
    if decision.action == "peak":
        assert decision.peak is not None
        head = f"limit {decision.limit}: the fitted throughput peaks at N* = " \
               f"{format_number(decision.peak)}"
    elif decision.action == "decrease":
        head = f"limit {decision.limit}: throughput falls above {best.n} concurrent attempts"
    elif decision.action == "probe-below":
        head = (f"limit {decision.limit}: the peak may lie below the lowest level measured "
                f"(throughput is best at {best.n}), so a lower level is measured")
    elif decision.action == "probe":
        head = (f"limit {decision.limit}: the limit did not bind (at most {top} ran at once), "
                "so a lower level is measured")
    elif decision.action == "keep":
        head = (f"limit {decision.limit}: the best level measured; the limit did not bind "
                f"(at most {top} ran at once)")
    else:
        head = (f"limit {decision.limit}: throughput still rises at {top} concurrent attempts, "
                "so the limit grows to measure higher levels")
    return replace(decision, reason=f"{head}, from {seen}{curve}")
