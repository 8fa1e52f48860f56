"""Quantiles with distribution-free confidence intervals, and how learners print numbers.

Shared by the learners that rest on a quantile of recorded durations (timeouts,
hedging), so that every decision states its quantile and how sure it is in the
same way."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .learner_errors import InvalidLearnerSetting

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: z of the two-sided 95 % normal interval, for the binomial ranks of a quantile.
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class QuantileEstimate:
    """The ``q`` quantile of ``n`` samples with a confidence interval.

    The interval is distribution-free: its ends are order statistics whose ranks
    come from the binomial count of samples below the true quantile (normal
    approximation). ``open_high`` is true when the upper rank falls past the
    largest sample: the true quantile may lie above ``high``, which is then only
    the largest sample seen."""

    q: float
    value: float
    low: float
    high: float
    n: int
    confidence: float = 0.95
    open_high: bool = False

    def describe(self, label: str | None = None) -> str:
        """``p99 0.031 s, 95% CI 0.029-0.036 s``: the quantile as a person reads it."""
        name = label or quantile_label(self.q)
        return f"{name} {format_seconds(self.value)}, {self.interval()}"

    def interval(self) -> str:
        """``95% CI 0.029-0.036 s``; ``0.036+`` when the upper end is open."""
        above = "+" if self.open_high else ""
        return (f"{round(self.confidence * 100)}% CI "
                f"{format_number(self.low)}-{format_number(self.high)}{above} s")


def quantile_label(q: float) -> str:
    """``p99`` for 0.99, ``p99.9`` for 0.999, ``p50`` for 0.5."""
    return f"p{format_number(q * 100)}"


def quantile_with_ci(values: npt.NDArray[np.float64], q: float,
                     confidence: float = 0.95) -> QuantileEstimate:
    """The ``q`` quantile of ``values`` (linear interpolation) and its confidence interval.

    With ``n`` samples the count below the true quantile is Binomial(n, q); the
    ranks ``n*q -/+ z*sqrt(n*q*(1-q))`` (rounded outwards, clipped to the
    samples) bound it with the given confidence whatever the distribution."""
    import numpy as np

    if not 0.0 < q < 1.0:
        raise InvalidLearnerSetting(f"quantile {q} is outside (0, 1): give e.g. 0.99 for p99")
    if len(values) == 0:
        raise InvalidLearnerSetting("no samples: a quantile needs at least one value")
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    n = len(ordered)
    z = _two_sided_z(confidence)
    spread = z * math.sqrt(n * q * (1.0 - q))
    low_rank = math.floor(n * q - spread)  # 1-based ranks of the interval's ends
    high_rank = math.ceil(n * q + spread) + 1
    open_high = high_rank > n
    return QuantileEstimate(
        q=q,
        value=float(np.quantile(ordered, q)),
        low=float(ordered[max(low_rank, 1) - 1]),
        high=float(ordered[min(high_rank, n) - 1]),
        n=n,
        confidence=confidence,
        open_high=open_high,
    )


def _two_sided_z(confidence: float) -> float:
    """The normal quantile for a two-sided interval of ``confidence``."""
    if abs(confidence - 0.95) < 1e-12:
        return Z_95
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def format_number(value: float) -> str:
    """Three significant digits without trailing zeros: 0.031, 412, 1.5, 4,700."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 1000:
        return f"{round(value):,}"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_seconds(value: float) -> str:
    """``0.031 s``: seconds as a person reads them in a reason."""
    return f"{format_number(value)} s"
