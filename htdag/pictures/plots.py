"""Plots of what the optimizer learns from and decides, with matplotlib (the
``htdag[notebook]`` extra): a handler's recorded durations with its static and
learned timeouts, and throughput against concurrency with the fitted curve and
the learned limit. Each returns the matplotlib Figure (a notebook shows it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.errors import HtdagError


class PlotsNeedMatplotlib(HtdagError, ImportError):
    """matplotlib is not installed: ``pip install 'htdag[notebook]'``."""


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotsNeedMatplotlib("plots need matplotlib: pip install 'htdag[notebook]'") \
            from None
    return plt


def plot_durations(durations: Sequence[float], *, static: float | None = None,
                   learned: float | None = None, title: str = "") -> Any:
    """A histogram of successful durations (log scale) with the static and the
    learned timeout as vertical lines. ``durations``: seconds, e.g.
    ``read_attempts(...).ok_durations()``."""
    values = [float(d) for d in durations if d > 0]
    if not values:
        raise HtdagError("no positive durations to plot: record some successful attempts first")
    plt = _pyplot()
    import numpy as np

    figure, axes = plt.subplots(figsize=(7, 3))
    low, high = min(values), max(values + [v for v in (static, learned) if v])
    bins = np.geomspace(low, high * 1.05, 40) if high > low else 20
    axes.hist(values, bins=bins, color="#4c78a8", label=f"{len(values)} successful attempts")
    if static is not None:
        axes.axvline(static, color="#e45756", label=f"static timeout ({static:g} s)")
    if learned is not None:
        axes.axvline(learned, color="#54a24b", label=f"learned timeout ({learned:.3g} s)")
    axes.set_xscale("log")
    axes.set_xlabel("seconds")
    axes.set_ylabel("attempts")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    return figure


def plot_concurrency(evidence: dict[str, Any], *, limit: int | None = None,
                     title: str = "") -> Any:
    """Throughput against the attempts running at once, as a concurrency
    decision's evidence has them (``points``, ``fit``), with the fitted
    Universal Scalability Law and the learned ``limit``."""
    points = evidence.get("points") or []
    if not points:
        raise HtdagError("the decision has no measured points: it was not applied (too few "
                         "samples); see its reason")
    plt = _pyplot()
    import numpy as np

    figure, axes = plt.subplots(figsize=(7, 3))
    axes.scatter([p["n"] for p in points], [p["throughput"] for p in points],
                 s=[8 + min(p["samples"], 200) / 4 for p in points], color="#4c78a8",
                 label="measured (size: samples)")
    fit = evidence.get("fit")
    if fit:
        n = np.linspace(1, max(p["n"] for p in points) * 1.2, 200)
        curve = fit["lam"] * n / (1 + fit["s"] * (n - 1) + fit["k"] * n * (n - 1))
        axes.plot(n, curve, color="#f58518", label="Universal Scalability Law fit")
    if limit is not None:
        axes.axvline(limit, color="#54a24b", label=f"learned limit ({limit})")
    axes.set_xlabel("attempts running at once")
    axes.set_ylabel("completions per second")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    return figure
