"""Plots of the optimizer's evidence (matplotlib): recorded durations with the
static and learned timeouts, throughput against concurrency with the fitted
curve and the learned limit; nothing to plot is a clear error."""

from __future__ import annotations

import matplotlib
import pytest

from htdag.core.errors import HtdagError
from htdag.pictures.plots import plot_concurrency, plot_durations

matplotlib.use("Agg")


def test_durations_with_both_timeouts() -> None:
    figure = plot_durations([0.02, 0.021, 0.03, 0.05, 0.019], static=3.0, learned=0.15,
                            title="map:lookup")

    [axes] = figure.axes
    labels = [line.get_label() for line in axes.lines]
    assert labels == ["static timeout (3 s)", "learned timeout (0.15 s)"]
    assert [line.get_xdata()[0] for line in axes.lines] == [3.0, 0.15]
    assert sum(patch.get_height() for patch in axes.patches) == 5
    assert axes.get_xscale() == "log" and axes.get_title() == "map:lookup"


def test_throughput_with_the_fit_and_the_limit() -> None:
    evidence = {"points": [{"n": 2, "throughput": 90.0, "samples": 40},
                           {"n": 4, "throughput": 160.0, "samples": 80},
                           {"n": 16, "throughput": 60.0, "samples": 200}],
                "fit": {"lam": 50.0, "s": 0.0, "k": 0.05}}

    figure = plot_concurrency(evidence, limit=4)

    [axes] = figure.axes
    [curve, limit] = axes.lines
    assert limit.get_xdata()[0] == 4 and "learned limit (4)" == limit.get_label()
    peak = curve.get_xdata()[curve.get_ydata().argmax()]
    assert 4 <= peak <= 5  # sqrt((1 - s) / k) = 4.47


def test_nothing_to_plot_says_why() -> None:
    with pytest.raises(HtdagError, match="record some successful attempts"):
        plot_durations([])
    with pytest.raises(HtdagError, match="no measured points"):
        plot_concurrency({"points": []})
