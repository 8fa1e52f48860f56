"""Statistics the benchmarks share: pure Python, so the peers' virtualenv
(benchmarks/peers/, without htdag) uses it too."""

from __future__ import annotations


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (0 <= q <= 1), interpolated linearly
    between the two nearest samples."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
